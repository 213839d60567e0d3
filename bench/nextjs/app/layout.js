// globals.css is style/main.css, copied in by scripts/bench-pages.sh.
import './globals.css';

export const metadata = { title: 'Analytics · Agent ID Portal' };

export default function RootLayout({ children }) {
  return (
    <html lang="en">
      <body>{children}</body>
    </html>
  );
}
