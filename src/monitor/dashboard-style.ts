/** /static/dashboard.css */
export const DASHBOARD_STYLE = `
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; background: #f3f5f8; color: #1d2733; }
header { background: #1f3a5f; color: #fff; padding: 14px 24px; }
header h1 { margin: 0; font-size: 20px; }
header .sub { opacity: 0.85; font-size: 13px; margin-top: 4px; }
.error { margin-top: 8px; background: #b3261e; color: #fff; padding: 6px 10px; border-radius: 4px; }
main { padding: 16px 24px; display: flex; flex-wrap: wrap; gap: 16px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: 16px; width: 100%; }
.card, .panel { background: #fff; border-radius: 6px; box-shadow: 0 1px 3px rgba(0,0,0,0.12); padding: 12px 16px; }
.panel { width: 100%; overflow-x: auto; }
.panel.half { flex: 1 1 440px; width: auto; }
h2 { font-size: 15px; margin: 0 0 8px; color: #1f3a5f; }
dl { display: grid; grid-template-columns: auto 1fr; gap: 4px 12px; margin: 0; }
dt { color: #5b6b7c; }
dd { margin: 0; font-weight: 600; word-break: break-all; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e4e8ee; white-space: nowrap; }
td.path { white-space: normal; word-break: break-all; max-width: 360px; }
th { color: #5b6b7c; font-weight: 600; }
tr.down td { color: #b3261e; }
.state-Leader { color: #1b7f3b; }
.state-Follower { color: #1f5fbf; }
.state-Candidate, .state-down { color: #b07800; }
.light { display: inline-block; width: 12px; height: 12px; border-radius: 50%; margin-right: 8px; background: #999; vertical-align: middle; }
.light.ok { background: #1b7f3b; }
.light.bad { background: #b3261e; }
#node-list { margin: 6px 0 0; padding-left: 18px; }
#latency-summary { font-size: 13px; color: #5b6b7c; margin-bottom: 6px; }
canvas { width: 100%; max-width: 900px; height: 180px; border: 1px solid #e4e8ee; border-radius: 4px; }
`;
