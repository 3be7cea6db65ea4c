# Sourced by the benchmarks that run an `llm-engine worker --join` process beside `bench batch` ($bin
# must be set). start_worker LOG [NAME=VALUE...] starts one, in a process group of its own, joining a
# free loopback port that it leaves in $port; stop_worker ends its whole group (call it on EXIT too).
worker=
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
start_worker() {
  port=$(free_port)
  env "${@:2}" setsid "$bin" worker --join "127.0.0.1:$port" >"$1" 2>&1 &
  worker=$!
}
stop_worker() { if [[ -n "$worker" ]]; then kill -TERM -- "-$worker" 2>/dev/null || true; wait "$worker" 2>/dev/null || true; worker=; fi; }
