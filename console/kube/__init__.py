"""The only door to Kubernetes. Import each name from the module of its concern:

kinds       the one table of kinds the console knows, and their URL paths
errors      ClusterError (with a reason the UI explains), ApiRefused, WatchExpired
config      kubeconfigs: parsing, the allow-list of fields, the document a client is built from
connection  checked addresses, timeouts and the circuit breaker; the API client itself
probe       connecting to see a cluster's version, nodes and readiness
watch       raw list and watch for the resource mirror
streams     websocket streams (pods/exec)
api         ClusterAPI: acting on objects as the console or as an impersonated person
"""
