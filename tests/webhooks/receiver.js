// A webhook receiver for tests/http_webhooks_test.py: it checks each
// delivery's signature with the npm standardwebhooks package (an
// implementation nobody here wrote) and appends one JSON line per
// delivery to LOG: {"id", "verified", "answered", "seq", "licence", "type"}.
// Usage: node receiver.js PORT LOG SECRET_FILE (PORT 0: any; the port is
// printed as "listening PORT").  POST /_mode {"mode", "delay_ms"?} sets
// how it answers: "ok" (204 once verified), "fail" (500), "slow" (an
// answer only after delay_ms).
"use strict";
const fs = require("fs");
const http = require("http");
const { Webhook } = require("standardwebhooks");

const [port, logPath, secretPath] = process.argv.slice(2);
let mode = { mode: "ok", delay_ms: 0 };

function record(entry) {
  fs.appendFileSync(logPath, JSON.stringify(entry) + "\n");
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
    if (req.url === "/_mode") {
      mode = JSON.parse(body);
      res.writeHead(204);
      res.end();
      return;
    }
    let verified = false;
    let doc = {};
    try {
      const secret = fs.readFileSync(secretPath, "utf8").trim();
      doc = new Webhook(secret).verify(body, req.headers);
      verified = true;
    } catch (e) {
      verified = false;
    }
    const entry = {
      id: req.headers["webhook-id"], verified, seq: doc.seq,
      licence: doc.licence ? doc.licence.id : null, type: doc.type,
      path: req.url,
    };
    const answer = (status) => {
      entry.answered = status;
      record(entry);
      res.writeHead(status);
      res.end();
    };
    if (!verified) {
      answer(400);
    } else if (mode.mode === "fail") {
      answer(500);
    } else if (mode.mode === "slow") {
      entry.late = true;
      setTimeout(() => answer(200), mode.delay_ms || 5000);
    } else {
      setTimeout(() => answer(204), mode.delay_ms || 0);
    }
  });
});
server.keepAliveTimeout = 30000;
server.listen(Number(port), "127.0.0.1", () => {
  console.log("listening " + server.address().port);
});
