// The Analytics page as a Next.js server component: rendered per request,
// with data made up in the process (no database), the same sections and
// sizes as the portal's /analytics for the bench tenant (1,000 agents, 30
// days, 25 table rows a page). The trend is a recharts client component.
import TrendChart from './trend-chart';

export const dynamic = 'force-dynamic';

const DAY = 86_400_000;
const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
// Formatters made once: Intl objects are slow to create per call.
const numbers = new Intl.NumberFormat('en-US');
const dates = new Intl.DateTimeFormat('en-US', { weekday: 'short', month: 'short', day: 'numeric', timeZone: 'UTC' });
const fmt = (n) => numbers.format(n);
const label = (d) => dates.format(d);

function random(seed) {
  let s = seed;
  return () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
}

function data() {
  const rnd = random(Math.floor(Date.now() / 1000));
  const today = Math.floor(Date.now() / DAY) * DAY;
  const trend = Array.from({ length: 30 }, (_, i) => {
    const d = new Date(today - (29 - i) * DAY);
    return { date: d.toISOString().slice(0, 10), label: label(d), count: Math.floor(300_000 + rnd() * 60_000) };
  });
  const heat = Array.from({ length: 7 }, () => Array.from({ length: 24 }, () => Math.floor(50_000 + rnd() * 20_000)));
  const agents = Array.from({ length: 25 }, (_, i) => ({
    id: `${Math.floor(rnd() * 1e8).toString(16).padStart(8, '0')}-9f55-4e7d-9adb-${Math.floor(rnd() * 1e12).toString(16).padStart(12, '0')}`,
    name: `bench-agent-${String(i).padStart(4, '0')}`,
    tokens: Math.floor(8_000 + rnd() * 2_000),
  }));
  return { trend, heat, agents };
}

export default function AnalyticsPage() {
  const { trend, heat, agents } = data();
  const total = trend.reduce((a, p) => a + p.count, 0);
  const max = Math.max(...heat.flat());
  return (
    <>
      <header className="app-header">
        <a href="/analytics" className="brand">Agent ID Portal</a>
        <nav aria-label="Main" className="app-nav">
          <a href="/analytics" aria-current="page">Analytics</a>
          <a href="/agents">Agents</a>
          <a href="/settings/tier">Tier &amp; Billing</a>
        </nav>
      </header>
      <main id="main" className="app-main">
        <h1 className="page-title">Analytics</h1>
        <nav aria-label="Range" className="segmented">
          <a href="?days=7" className="segment">7 days</a>
          <a href="?days=30" aria-current="true" className="segment">30 days</a>
          <a href="?days=90" className="segment">90 days</a>
        </nav>
        <section aria-label="Summary" className="stat-cards">
          {[['Tokens issued', total], ['API calls', 0], ['Active agents', 1000], ['Refused for quota', 0]].map(([name, value]) => (
            <div key={name} className="card stat-card">
              <p className="stat-label">{name}</p>
              <p className="stat-value">{fmt(value)}</p>
              <p className="stat-change same">no change<span className="muted"> vs previous 30 days</span></p>
            </div>
          ))}
        </section>
        <section className="panel">
          <h2>Token issuance</h2>
          <TrendChart data={trend} />
        </section>
        <section className="panel">
          <h2>Activity by weekday and hour</h2>
          <svg viewBox="0 0 664 190" className="chart-svg heatmap-svg" role="group">
            {heat.map((hours, d) => hours.map((count, h) => (
              <rect key={`${d}-${h}`} className={`heat-cell heat-${Math.max(1, Math.ceil((count / max) * 5))}`}
                x={41 + h * 26} y={23 + d * 24} role="img">
                <title>{`${WEEKDAYS[d]} ${String(h).padStart(2, '0')}:00–${String((h + 1) % 24).padStart(2, '0')}:00: ${fmt(count)} requests`}</title>
              </rect>
            )))}
          </svg>
        </section>
        <section className="panel">
          <h2>Usage by agent</h2>
          <table className="data-table">
            <thead>
              <tr><th>Agent</th><th>Type</th><th>Status</th><th className="num">Tokens</th><th className="num">API calls</th><th className="num">Refused</th><th>Last activity</th></tr>
            </thead>
            <tbody>
              {agents.map((a) => (
                <tr key={a.id} data-agent-id={a.id}>
                  <td><a href={`/agents/${a.id}`}>{a.name}</a></td>
                  <td>worker</td>
                  <td><span className="badge badge-active">active</span></td>
                  <td className="num">{fmt(a.tokens)}</td>
                  <td className="num">0</td>
                  <td className="num">0</td>
                  <td>3 h ago</td>
                </tr>
              ))}
            </tbody>
          </table>
          <nav aria-label="Agent pages" className="pager"><span>Page 1 of 40</span><a rel="next" href="?page=2">Next →</a></nav>
        </section>
      </main>
    </>
  );
}
