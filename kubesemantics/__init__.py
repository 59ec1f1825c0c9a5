"""Pure Kubernetes semantics shared by the console and its sandbox cluster: quantity units and
the Pod Security Standards' building blocks. Imports nothing of the project (an import-linter
contract keeps it so), so both sides of the sandbox boundary may use it; each keeps its own
words (the sandbox Kubernetes' own messages, the console its translated ones)."""
