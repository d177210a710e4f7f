# shellcheck shell=bash
# bench/cores.sh: how every benchmark script pins its processes, sourced.
# wrk (CLIENT) on core 0, the servers and ceilings (SERVER) on the others:
# on this 2-core machine, one server core, so CPU time a request is
# throughput (bench/README.md, "Cores").  Prefixes, not functions:
# "${SERVER[@]}" CMD & must leave CMD's own pid in $! (taskset execs it).
# With one core nothing is pinned.  SERVER_CORES: how many SERVER has.
NCPU=$(nproc)
if [ "$NCPU" -ge 2 ]; then
	CLIENT=(taskset -c 0)
	SERVER=(taskset -c "1-$((NCPU - 1))")
	SERVER_CORES=$((NCPU - 1))
else
	CLIENT=()
	SERVER=()
	SERVER_CORES=1
fi
