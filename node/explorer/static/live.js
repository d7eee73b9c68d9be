// The overview's live view: committed TPS chart and shard cells, fed by the node's own
// WebSocket API (agora_subscribe "newBlocks", one subscription per shard, on this origin).
// TPS is counted from finalized blocks by their header timestamps, so it is what the
// chain committed, not what clients sent. Without JavaScript the page stays as rendered.
"use strict";
(function () {
  const chart = document.getElementById("tps-chart");
  if (!chart) return;
  const shards = Number(chart.dataset.shards) || 0;
  const statusText = document.getElementById("live-status");
  const tpsNow = document.getElementById("tps-now");
  const windowSeconds = 60;   // seconds shown on the chart
  const averageSeconds = 10;  // seconds averaged for the TPS figures
  const retryMaxMs = 10000;
  const buckets = new Map();  // second (block time) -> txs, all shards
  const shardBuckets = [];    // per shard: second -> txs
  for (let s = 0; s < shards; s++) shardBuckets.push(new Map());
  let blocks = 0, txs = 0, retryMs = 500, firstSecond = null, latestSecond = 0;
  let drawPending = false;

  function say(text) { statusText.textContent = text; }

  function setCell(id, text, href) {
    const cell = document.getElementById(id);
    if (!cell) return;
    cell.textContent = "";
    if (href) {
      const a = document.createElement("a");
      a.href = href;
      a.textContent = text;
      cell.appendChild(a);
    } else {
      cell.textContent = text;
    }
  }

  function formatTime(ms) {
    return new Date(ms).toISOString().replace("T", " ").replace("Z", " UTC");
  }

  function average(map) {
    if (firstSecond === null) return 0;
    const span = Math.max(1, Math.min(averageSeconds, latestSecond - firstSecond + 1));
    let sum = 0;
    for (let t = latestSecond - span + 1; t <= latestSecond; t++) sum += map.get(t) || 0;
    return sum / span;
  }

  function prune(map) {
    for (const t of map.keys()) if (t <= latestSecond - windowSeconds) map.delete(t);
  }

  function onBlock(block) {
    const shard = block.shard, second = Math.floor(block.timestamp_ms / 1000);
    blocks += 1;
    txs += block.tx_count;
    if (firstSecond === null) firstSecond = second;
    latestSecond = Math.max(latestSecond, second);
    buckets.set(second, (buckets.get(second) || 0) + block.tx_count);
    if (shardBuckets[shard]) {
      const own = shardBuckets[shard];
      own.set(second, (own.get(second) || 0) + block.tx_count);
    }
    setCell(`s${shard}-height`, String(block.height), `/explorer/block/${shard}/${block.height}`);
    setCell(`s${shard}-view`, String(block.view));
    setCell(`s${shard}-time`, formatTime(block.timestamp_ms));
    setCell(`s${shard}-txs`, String(block.tx_count));
    prune(buckets);
    shardBuckets.forEach(prune);
    shardBuckets.forEach((own, s) => setCell(`s${s}-tps`, average(own).toFixed(1)));
    tpsNow.textContent = average(buckets).toFixed(1);
    chart.dataset.blocks = String(blocks);
    chart.dataset.txs = String(txs);
    if (!drawPending) {
      drawPending = true;
      window.requestAnimationFrame(draw);
    }
  }

  function draw() {
    drawPending = false;
    const ratio = window.devicePixelRatio || 1;
    const width = chart.clientWidth || chart.width, height = chart.clientHeight || chart.height;
    chart.width = Math.round(width * ratio);
    chart.height = Math.round(height * ratio);
    const g = chart.getContext("2d");
    g.scale(ratio, ratio);
    g.clearRect(0, 0, width, height);
    const left = 48, bottom = height - 24, top = 10, right = width - 10;
    const points = [];
    let peak = 1;
    for (let i = 0; i < windowSeconds; i++) {
      const t = latestSecond - windowSeconds + 1 + i;
      const value = buckets.get(t) || 0;
      points.push(value);
      peak = Math.max(peak, value);
    }
    // A round top that four gridlines divide into whole numbers.
    const step = Math.pow(10, Math.floor(Math.log10(Math.max(1, peak / 4))));
    const yMax = Math.max(4, Math.ceil(peak / (4 * step)) * 4 * step);
    g.strokeStyle = "#c8cdd4";
    g.fillStyle = "#38414d";
    g.font = "12px system-ui, sans-serif";
    g.lineWidth = 1;
    for (let k = 0; k <= 4; k++) {
      const y = bottom - (bottom - top) * k / 4;
      g.beginPath(); g.moveTo(left, y); g.lineTo(right, y); g.stroke();
      g.fillText(String(Math.round(yMax * k / 4)), 4, y + 4);
    }
    g.fillText(`${windowSeconds} s ago`, left, height - 6);
    g.fillText("now", right - 24, height - 6);
    g.strokeStyle = "#1f5fbf";
    g.lineWidth = 2;
    g.beginPath();
    points.forEach((value, i) => {
      const x = left + (right - left) * i / (windowSeconds - 1);
      const y = bottom - (bottom - top) * value / yMax;
      if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
    });
    g.stroke();
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    let socket;
    try {
      socket = new WebSocket(`${scheme}//${window.location.host}/`);
    } catch (error) {
      retry();
      return;
    }
    socket.onopen = () => {
      retryMs = 500;
      say("Live: receiving finalized blocks from this node.");
      for (let s = 0; s < shards; s++) {
        socket.send(JSON.stringify({jsonrpc: "2.0", id: s, method: "agora_subscribe",
                                    params: ["newBlocks", s]}));
      }
    };
    socket.onmessage = (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch (error) { return; }
      if (message.method === "agora_subscription" && message.params) {
        onBlock(message.params.result);
      } else if (message.error) {
        say(`The node refused the subscription: ${message.error.message}`);
      }
    };
    socket.onclose = retry;
  }

  function retry() {
    say(`Node unreachable: live updates paused, retrying in ${retryMs / 1000} s.`);
    window.setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, retryMaxMs);
  }

  draw();
  connect();
})();
