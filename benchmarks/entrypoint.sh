#!/bin/sh
# The baseline for benchmarks/startup.py: a POSIX sh entrypoint in the style of
# fabric8's run-java.sh. It reads the same two cgroup files cgroupsize starts
# from (/proc/self/cgroup and the memory limit), exports the limit and execs
# the command. Only shell builtins: no cat, no grep, no helper process.
#
#   sh benchmarks/entrypoint.sh CMD [ARGS...]
v1= v2=
while IFS=: read -r id controllers path; do
    case "$id:$controllers" in
        0:) v2=$path ;;
        *:memory | *:memory,* | *,memory | *,memory,*) v1=$path ;;
    esac
done </proc/self/cgroup
if [ -n "$v1" ] && [ -r "/sys/fs/cgroup/memory$v1/memory.limit_in_bytes" ]; then
    file=/sys/fs/cgroup/memory$v1/memory.limit_in_bytes
elif [ -r "/sys/fs/cgroup/memory/memory.limit_in_bytes" ]; then
    file=/sys/fs/cgroup/memory/memory.limit_in_bytes
else
    file=/sys/fs/cgroup$v2/memory.max
fi
limit=
[ -r "$file" ] && read -r limit <"$file"
CONTAINER_MAX_MEMORY=$limit
export CONTAINER_MAX_MEMORY
exec "$@"
