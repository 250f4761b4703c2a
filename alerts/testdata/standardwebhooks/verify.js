// Verifies webhook deliveries with the official Standard Webhooks library.
// stdin: one JSON object a line, {secret, raw, headers, body}; stdout: one
// JSON object a line, {ok, error, payload}.
const { Webhook } = require("standardwebhooks");
const lines = require("fs").readFileSync(0, "utf8").split("\n").filter(Boolean);
for (const line of lines) {
  const d = JSON.parse(line);
  try {
    const wh = d.raw ? new Webhook(d.secret, { format: "raw" }) : new Webhook(d.secret);
    const payload = wh.verify(d.body, d.headers);
    console.log(JSON.stringify({ ok: true, payload }));
  } catch (e) {
    console.log(JSON.stringify({ ok: false, error: String(e && e.message || e) }));
  }
}
