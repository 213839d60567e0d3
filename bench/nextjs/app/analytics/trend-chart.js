'use client';
// The token trend as the original product drew it: recharts, in the browser.
import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';

export default function TrendChart({ data }) {
  return (
    <div className="chart trend-chart">
      <ResponsiveContainer width="100%" height={260}>
        <LineChart data={data} margin={{ top: 14, right: 12, bottom: 12, left: 8 }}>
          <CartesianGrid strokeDasharray="3 3" vertical={false} />
          <XAxis dataKey="label" tick={{ fontSize: 11 }} interval={4} />
          <YAxis tick={{ fontSize: 11 }} width={44} />
          <Tooltip formatter={(v) => [v.toLocaleString('en-US'), 'tokens']} />
          <Line type="monotone" dataKey="count" stroke="#4263eb" strokeWidth={2.5} dot={{ r: 3 }} isAnimationActive={false} />
        </LineChart>
      </ResponsiveContainer>
    </div>
  );
}
