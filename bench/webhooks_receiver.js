// The receiver of bench/webhooks.py: answers every POST 204 at once and
// notes, per path (one per subscription) and licence, when its first
// licence.issued event arrived, in ms of CLOCK_MONOTONIC (the clock the
// issuing side stamps its 201s with).  GET /_dump answers them as JSON
// {path: {licence_id: ms}}.  Usage: node webhooks_receiver.js PORT
"use strict";
const http = require("http");

const arrived = {};
let deliveries = 0;

const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/_dump") {
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ deliveries, arrived }));
    return;
  }
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const now = Number(process.hrtime.bigint()) / 1e6;
    deliveries++;
    try {
      const doc = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      if (doc.type === "licence.issued") {
        const m = arrived[req.url] || (arrived[req.url] = {});
        if (!(doc.licence.id in m)) m[doc.licence.id] = now;
      }
    } catch (e) {
      // not an event: counted, not noted
    }
    res.writeHead(204);
    res.end();
  });
});
server.keepAliveTimeout = 60000;
server.listen(Number(process.argv[2]), "127.0.0.1", () => {
  console.log("listening " + server.address().port);
});
