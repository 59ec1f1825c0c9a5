"""The only door to Ceph (RBD volumes, snapshots, backup chains). Import each name from the
module of its concern:

config      the console's Ceph settings (CEPH_CONF, CEPH_KEYRING, CEPH_CLIENT, ...), and what to
            say when they are absent
errors      CephError and its typed subclasses, each with a translatable message (a stored Text)
gateway     Ceph: connect, health, pools, images, snapshots, clones, checksums, backups
diffstream  Ceph's own "rbd diff v1" stream format (what `rbd export-diff` writes, `rbd import-diff` reads)
artefacts   backup artefacts as chunked RADOS objects with a SHA-256 checksum and a manifest

The gateway uses Debian's rados/rbd Python bindings (python3-rados, python3-rbd; see
scripts/ceph-dev.sh bindings), imported when a connection is made: the console starts and
runs without them, it only says that Ceph is unavailable.
"""
