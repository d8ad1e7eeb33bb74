"""The shipped deployment past one process: HAProxy (deploy/haproxy.cfg) in front of several app
replicas on one PostgreSQL. ``python -m deploy.school`` starts a whole school on one machine;
docs/deploy.md tells one machine, several replicas and several machines apart."""
