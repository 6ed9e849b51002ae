// @ts-check
// in-process: `npm run bench:in-process` (vitest inside workerd: commits per
// second inside one Durable Object, no HTTP), its `BENCH {json}` line taken
// as is. Runs after the HTTP server has stopped, so the two do not compete.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { ROOT } from "../lib/util.mjs";

let running = null;

/** Stops a running in-process benchmark and its workerd (on a signal). */
export function stopInProcess() {
  if (running) process.kill(-running.pid, "SIGTERM");
}

export const inProcess = {
  name: "in-process",
  once: true,
  needsServer: false,
  async measure({ log }) {
    const child = spawn("npm", ["run", "--silent", "bench:in-process"], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
      detached: true, // its own group: vitest's workerd goes down with it on a signal
    });
    running = child;
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk;
    });
    child.stderr.on("data", (chunk) => {
      output += chunk;
    });
    const [code] = await once(child, "exit");
    running = null;
    const line = output.match(/^BENCH (\{.*\})$/m);
    if (code !== 0 || !line) {
      log(`in-process: exited with ${code}; last output:\n${output.slice(-2000)}`);
      return [{ key: "in-process", failed: true, checks: { ran: false }, info: { exit_code: code } }];
    }
    const result = JSON.parse(line[1]);
    return [{ key: "in-process", checks: { ran: true }, info: result }];
  },
};
