#!/usr/bin/env python3
"""Whole-process benchmarks of ack-ram-tool, each paired with a baseline run interleaved with it.

    python3 bench/bench.py --bin target/release/ack-ram-tool --emulator target/release/ack-ram-emulator

Cache hit (file store) vs `cat` of the same cache file; cache hit (keyring store, when a Secret
Service answers) vs the file-store hit; cold path (no cache, HTTPS to the local emulator) vs a
trivial HTTPS client (curl) doing one request to the same server. Each pair runs alternately
(A, B, A, B, ...) after a warm-up, so both see the same machine state. Per process: wall time,
CPU time (user + system) and peak RSS, from wait4(2). Prints a Markdown table and, with
--max-hit-ratio, fails (exit 1) when the file-store hit is slower than that many times `cat`.
With --compare-bin OTHER, OTHER's cache hit is one more baseline (before/after a change).
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

CLUSTER = "c0123456789abcdef0123456789abcdef"
AK_ID = "LTAI5tEmulatorDemoKey"
AK_SECRET = "EmulatorDemoSecretNotReal0123456"


def peak_rss_kib(argv, env, runs=5):
    """Peak RSS of argv, by GNU time. (wait4's ru_maxrss of a child spawned from Python counts
    the Python parent's pages the child shared before exec, so it is not used for memory.)"""
    if not os.path.exists("/usr/bin/time"):
        return None
    peak = 0
    with tempfile.NamedTemporaryFile("r") as out:
        for _ in range(runs):
            subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out.name] + argv, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            out.seek(0)
            peak = max(peak, int(out.read().strip().splitlines()[-1]))
    return peak


def run_once(argv, env):
    """Runs argv; returns (wall seconds, cpu seconds, exit status)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {err}")
    return wall, usage.ru_utime + usage.ru_stime


def pair(name, baseline, a, b, env_a, env_b, runs, warmup):
    for _ in range(warmup):
        run_once(a, env_a)
        run_once(b, env_b)
    ra, rb = [], []
    for _ in range(runs):
        ra.append(run_once(a, env_a))
        rb.append(run_once(b, env_b))
    return name, baseline, summarize(ra, peak_rss_kib(a, env_a)), summarize(rb, peak_rss_kib(b, env_b))


def summarize(results, rss_kib):
    walls = [r[0] * 1000 for r in results]
    cpus = [r[1] * 1000 for r in results]
    return {
        "wall_ms": statistics.median(walls), "wall_min": min(walls), "wall_max": max(walls),
        "cpu_ms": statistics.median(cpus), "rss_mib": (rss_kib or 0) / 1024, "runs": len(results),
    }


def start_emulator(emulator, work, tls=True):
    ready = os.path.join(work, "endpoint")
    ca = os.path.join(work, "ca.pem")
    argv = [emulator, "--ready-file", ready, "--ca-out", ca]
    if tls:
        argv.append("--tls")
    log = open(os.path.join(work, "emulator.log"), "w")
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log)
    for _ in range(400):
        if os.path.exists(ready) and os.path.getsize(ready) > 0:
            break
        time.sleep(0.025)
    else:
        proc.kill()
        raise SystemExit("the emulator did not start")
    with open(ready) as f:
        return proc, f.read().strip(), ca


def base_env(home, ca):
    env = {"HOME": home, "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "SSL_CERT_FILE": ca,
           "ALIBABA_CLOUD_ACCESS_KEY_ID": AK_ID, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": AK_SECRET,
           "NO_PROXY": "127.0.0.1,localhost"}
    for var in ("DBUS_SESSION_BUS_ADDRESS",):
        if var in os.environ:
            env[var] = os.environ[var]
    return env


def connects(bin_argv, env):
    """TCP connections a cold run opens (strace), i.e. TLS handshakes to the API."""
    if not shutil.which("strace"):
        return None
    with tempfile.NamedTemporaryFile("r", suffix=".strace") as out:
        subprocess.run(["strace", "-f", "-qq", "-e", "trace=connect", "-o", out.name] + bin_argv,
                       env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        return sum(1 for line in out if "AF_INET" in line and "127.0.0.1" in line)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", required=True)
    p.add_argument("--emulator", required=True)
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--cold-runs", type=int, default=40)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--max-hit-ratio", type=float, default=None)
    p.add_argument("--json", help="also write the figures here")
    p.add_argument("--compare-bin", help="another ack-ram-tool (an older build, say): its cache hit "
                   "becomes one more baseline, interleaved with this one's")
    args = p.parse_args()

    work = tempfile.mkdtemp(prefix="ack-bench-")
    emulator, endpoint, ca = start_emulator(os.path.abspath(args.emulator), work)
    try:
        home = os.path.join(work, "home")
        os.makedirs(home)
        env = base_env(home, ca)
        host = endpoint.removeprefix("https://")
        # The exec entry get-kubeconfig writes (what kubectl runs), pointed at the emulator.
        plugin = [os.path.abspath(args.bin), "credential-plugin", "get-credential",
                  "--cluster-id", CLUSTER, "--api-version", "v1beta1", "--expiration", "3h0m0s",
                  "--credential-cache-dir", "~/.kube/cache/ack-ram-tool/credential-plugin",
                  "--cs-endpoint", host, "--log-level", "error"]
        # Fill the file cache once.
        run_once(plugin, env)
        cache_file = os.path.join(home, ".kube/cache/ack-ram-tool/credential-plugin",
                                  f"{CLUSTER}-exec-auth-credential-v1beta1.json")
        rows = [pair("cache hit, file store", "`cat` of the cache file", plugin, ["cat", cache_file],
                     env, env, args.runs, args.warmup)]
        if args.compare_bin:
            other = [os.path.abspath(args.compare_bin)] + plugin[1:]
            rows.append(pair("cache hit, file store", f"the same hit by {args.compare_bin}", plugin,
                             other, env, env, args.runs, args.warmup))

        if "DBUS_SESSION_BUS_ADDRESS" in os.environ:
            keyring = plugin + ["--cache-store", "keyring"]
            run_once(keyring, env)
            rows.append(pair("cache hit, keyring store (Secret Service)", "the file-store hit", keyring,
                             plugin, env, env,
                             max(args.runs // 4, 10), args.warmup))

        cold = plugin + ["--cache-store", "none"]
        curl = ["curl", "-s", "-o", "/dev/null", "--cacert", ca, f"{endpoint}/k8s/{CLUSTER}/user_config"]
        rows.append(pair("cold path (HTTPS to the local emulator)", "`curl` one HTTPS request", cold,
                         curl, env, env,
                         args.cold_runs, 3))
        handshakes = connects(cold, env)
    finally:
        emulator.send_signal(signal.SIGTERM)
        emulator.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)

    size = os.path.getsize(args.bin)
    print(f"| measurement | ack-ram-tool median (min-max) | baseline | baseline median (min-max) | ratio | ack-ram-tool CPU | baseline CPU | peak RSS | baseline peak RSS |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, base, a, b in rows:
        print(f"| {name} | {a['wall_ms']:.2f} ms ({a['wall_min']:.2f}-{a['wall_max']:.2f}) | {base} | "
              f"{b['wall_ms']:.2f} ms ({b['wall_min']:.2f}-{b['wall_max']:.2f}) | {a['wall_ms'] / b['wall_ms']:.2f}x | "
              f"{a['cpu_ms']:.2f} ms | {b['cpu_ms']:.2f} ms | {a['rss_mib']:.1f} MiB | {b['rss_mib']:.1f} MiB |")
    print(f"\nbinary: {size / 1024 / 1024:.2f} MiB ({args.bin}); runs: {rows[0][2]['runs']} per hit pair, "
          f"{rows[-1][2]['runs']} cold; TCP connections per cold run: {handshakes}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": [{"name": n, "baseline_name": base, "plugin": a, "baseline": b}
                                for n, base, a, b in rows],
                       "binary_bytes": size, "cold_connections": handshakes}, f, indent=1)
    hit, cat = rows[0][2], rows[0][3]
    ratio = hit["wall_ms"] / cat["wall_ms"]
    if args.max_hit_ratio is not None and ratio > args.max_hit_ratio:
        print(f"FAIL: the cache hit is {ratio:.2f}x `cat` (limit {args.max_hit_ratio}x)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
