import { NODE_HEIGHT, NODE_WIDTH } from './dag-layout';

/**
 * The DAG page: one self-contained HTML document (no assets to serve), drawing
 * `api/v1/namespaces/<ns>/dag` as SVG and polling it every 2 s. A click on a job opens its per-node
 * table, merged from the job's status and its history (last start and end of each node). URLs are
 * relative so the page also works behind the API server's Service proxy.
 */
export function dagPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>reaper-flow · DaemonJob DAG</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;background:#f5f6f8;color:#1d2330}
header{background:#1d2330;color:#fff;padding:10px 20px;display:flex;gap:20px;align-items:center}
header a{color:#9ecbff}
main{display:flex;flex-wrap:wrap;gap:20px;padding:20px;align-items:flex-start}
#graph{background:#fff;border:1px solid #d7dbe2;border-radius:6px;flex-shrink:0}
.job rect{stroke:#1d2330;stroke-width:1;rx:6;cursor:pointer}
.job text{font-size:13px;pointer-events:none}
.job.selected rect{stroke-width:3}
.edge{fill:none;stroke:#6b7280;stroke-width:1.5;marker-end:url(#arrow)}
.phase-Completed rect{fill:#c9f2d0}.phase-Running rect{fill:#cfe8ff}.phase-Pending rect{fill:#fff3c4}
.phase-PartiallyFailed rect{fill:#ffd0d0}.suspended rect{stroke-dasharray:5 3}
#details{background:#fff;border:1px solid #d7dbe2;border-radius:6px;padding:12px;flex:1 1 auto;min-width:0;max-width:100%;box-sizing:border-box;overflow-x:auto}
table{border-collapse:collapse;font-size:13px}th,td{border-bottom:1px solid #e5e7eb;padding:4px 8px;text-align:left;white-space:nowrap}
#error{color:#b91c1c}
</style></head>
<body>
<header><strong>reaper-flow</strong><span>DaemonJob DAG</span>
<label>namespace <input id="ns" size="20"></label><a href="./">Bull Board</a><span id="error"></span></header>
<main><svg id="graph" width="400" height="200" role="img" aria-label="DaemonJob DAG"></svg>
<section id="details" hidden><h3 id="details-title"></h3><p id="details-summary"></p>
<p><a id="flow-link" href="#">Run flow in Bull Board</a></p>
<table id="node-table"><thead><tr><th>Node</th><th>Phase</th><th>Attempts</th><th>Exit code</th><th>Last start</th><th>Last end</th></tr></thead><tbody></tbody></table>
</section></main>
<script>
const W = ${NODE_WIDTH}, H = ${NODE_HEIGHT};
const SVG = 'http://www.w3.org/2000/svg';
const params = new URLSearchParams(location.search);
const nsInput = document.getElementById('ns');
nsInput.value = params.get('namespace') || 'default';
nsInput.addEventListener('change', () => { params.set('namespace', nsInput.value); history.replaceState(null, '', '?' + params); selected = null; refresh(); });
let selected = null;
let last = null;
const el = (name, attrs, text) => { const e = document.createElementNS(SVG, name); for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v)); if (text !== undefined) e.textContent = text; return e; };
function draw(dag) {
  const svg = document.getElementById('graph');
  svg.replaceChildren();
  svg.setAttribute('width', Math.max(dag.width, 200)); svg.setAttribute('height', Math.max(dag.height, 100));
  const defs = el('defs', {}); const marker = el('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 8, markerHeight: 8, orient: 'auto-start-reverse' });
  marker.append(el('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#6b7280' })); defs.append(marker); svg.append(defs);
  for (const e of dag.edges) {
    const d = e.points.map((p, i) => (i ? 'L' : 'M') + p.x + ' ' + p.y).join(' ');
    svg.append(el('path', { class: 'edge', d, 'data-from': e.from, 'data-to': e.to }));
  }
  if (dag.jobs.length === 0) svg.append(el('text', { x: 20, y: 40 }, 'No ReaperDaemonJobs in this namespace.'));
  for (const job of dag.jobs) {
    const g = el('g', { class: 'job phase-' + job.phase + (job.suspended ? ' suspended' : '') + (job.name === selected ? ' selected' : ''), 'data-job': job.name, 'data-phase': job.phase, transform: 'translate(' + (job.x - W / 2) + ',' + (job.y - H / 2) + ')' });
    g.append(el('rect', { width: W, height: H }));
    g.append(el('text', { x: 10, y: 20, 'font-weight': 'bold' }, job.name));
    g.append(el('text', { x: 10, y: 40, class: 'summary' }, job.phase + (job.suspended ? ' (suspended)' : '') + ' · ' + job.ready + '/' + job.total + (job.failed ? ' · ' + job.failed + ' failed' : '')));
    if (job.waitingFor) g.append(el('title', {}, job.waitingFor));
    g.addEventListener('click', () => { selected = job.name; draw(last); showDetails(); });
    svg.append(g);
  }
}
const short = (iso) => iso ? iso.replace('T', ' ').replace(/\\.\\d+Z$|Z$/, '') : '';
async function showDetails() {
  const job = last && last.jobs.find((j) => j.name === selected);
  const box = document.getElementById('details');
  if (!job) { box.hidden = true; return; }
  box.hidden = false;
  document.getElementById('details-title').textContent = job.name;
  document.getElementById('details-summary').textContent = job.phase + ', ' + job.ready + '/' + job.total + ' ready, ' + job.failed + ' failed' + (job.waitingFor ? ', ' + job.waitingFor : '');
  let history = { nodes: [] };
  const res = await fetch('api/v1/namespaces/' + encodeURIComponent(nsInput.value) + '/reaperdaemonjobs/' + encodeURIComponent(job.name) + '/history');
  if (res.ok) history = await res.json();
  const link = document.getElementById('flow-link');
  link.href = history.flowPath || 'queue/djob-runs';
  const byNode = new Map(history.nodes.map((n) => [n.node, n]));
  const rows = job.nodes.map((n) => {
    const runs = byNode.get(n.node)?.runs ?? [];
    const attempts = runs.flatMap((r) => r.attempts);
    const a = attempts[attempts.length - 1];
    const tr = document.createElement('tr'); tr.dataset.node = n.node;
    for (const v of [n.node, n.phase, n.attempts, n.exitCode ?? '', short(a && a.startedAt), short(a && a.endedAt)]) { const td = document.createElement('td'); td.textContent = String(v); tr.append(td); }
    return tr;
  });
  document.querySelector('#node-table tbody').replaceChildren(...rows);
}
async function refresh() {
  try {
    const res = await fetch('api/v1/namespaces/' + encodeURIComponent(nsInput.value) + '/dag');
    if (!res.ok) throw new Error((await res.json()).message || res.status);
    last = await res.json();
    document.getElementById('error').textContent = '';
    draw(last);
    if (selected) await showDetails();
  } catch (err) { document.getElementById('error').textContent = String(err.message || err); }
}
refresh();
setInterval(refresh, 2000);
</script></body></html>
`;
}
