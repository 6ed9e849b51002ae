#!/usr/bin/env bash
# ad-hoc: strace workerd during a probe run
node bench/probe-spread.mjs "$@" > /tmp/exp/probe.log 2>&1 &
P=$!
for i in $(seq 1 60); do
  W=$(pgrep -f "workerd serve" | head -5 | tr '\n' ' ')
  if grep -q "run 1" /tmp/exp/probe.log 2>/dev/null; then break; fi
  sleep 1
done
W=$(pgrep -n -f "workerd serve")
timeout 5 perf record -F 499 -g -p $W -o /tmp/exp/perf.data >/dev/null 2>&1
wait $P
cat /tmp/exp/probe.log | grep "n="
perf report -i /tmp/exp/perf.data --no-children --sort dso,sym --stdio 2>/dev/null | grep -v "^#" | grep "%" | head -40
