// The Panoptes web UI: the application shell (navigation, top bar with the shared time range,
// auto refresh and theme) and the client-side routes.

import { render } from "preact";
import { useState } from "preact/hooks";
import "./styles.css";
import { useLocation } from "./lib/router";
import { applyTheme, currentTheme, useTime, type Theme } from "./lib/timecontext";
import { RefreshPicker, TimePicker } from "./components/TimePicker";
import { Button, Link, Toasts } from "./components/ui";
import { Icon, type IconName } from "./components/icons";
import { Explore } from "./pages/Explore";
import { Targets } from "./pages/Targets";
import { Rules } from "./pages/Rules";
import { Alerts } from "./pages/Alerts";
import { Silences } from "./pages/Silences";
import { Status } from "./pages/Status";
import { DashboardList, DashboardImport } from "./pages/Dashboards";
import { DashboardPage } from "./pages/DashboardView";

applyTheme(currentTheme());

interface Route {
  path: string;
  title: string;
  icon: IconName;
  section: string;
}

const NAV: Route[] = [
  { path: "/dashboards", title: "Dashboards", icon: "dashboards", section: "Observe" },
  { path: "/explore", title: "Explore", icon: "explore", section: "Observe" },
  { path: "/alerts", title: "Alerts", icon: "alerts", section: "Alerting" },
  { path: "/rules", title: "Rules", icon: "rules", section: "Alerting" },
  { path: "/silences", title: "Silences", icon: "silences", section: "Alerting" },
  { path: "/targets", title: "Targets", icon: "targets", section: "Status" },
  { path: "/status", title: "Status", icon: "status", section: "Status" },
];

function Logo() {
  return (
    <svg width="24" height="24" viewBox="0 0 32 32" aria-hidden="true">
      <circle cx="16" cy="16" r="14" fill="#f47b20" />
      <circle cx="16" cy="16" r="8" fill="#fff" />
      <circle cx="16" cy="16" r="4" fill="#1f1f2e" />
    </svg>
  );
}

/** Which pages show the shared time range and refresh pickers. */
function usesTime(path: string): boolean {
  return path.startsWith("/explore") || path.startsWith("/d/") || path.startsWith("/dashboard/");
}

function App() {
  const { path } = useLocation();
  const [theme, setTheme] = useState<Theme>(currentTheme());
  const [collapsed, setCollapsed] = useState(localStorage.getItem("panoptes.nav") === "collapsed");
  const time = useTime(path.startsWith("/d/") || path.startsWith("/dashboard/") ? { from: "now-6h", to: "now" } : { from: "now-1h", to: "now" });
  const route = NAV.find((r) => path === r.path || path.startsWith(r.path + "/")) ?? (path.startsWith("/d/") || path.startsWith("/dashboard/") ? NAV[0] : undefined);
  let page;
  let title = route?.title ?? "Not found";
  if (path === "/" || path === "") {
    page = <DashboardList />;
    title = "Dashboards";
  } else if (path === "/explore" || path === "/graph") page = <Explore time={time} />;
  else if (path === "/targets") page = <Targets tick={time.tick} />;
  else if (path === "/rules") page = <Rules tick={time.tick} />;
  else if (path === "/alerts") page = <Alerts tick={time.tick} />;
  else if (path === "/silences") page = <Silences tick={time.tick} />;
  else if (path === "/status") page = <Status tick={time.tick} />;
  else if (path === "/dashboards") page = <DashboardList />;
  else if (path === "/dashboard/import") {
    page = <DashboardImport />;
    title = "Import dashboard";
  } else if (path === "/dashboard/new") {
    page = <DashboardPage source={{ kind: "new" }} time={time} />;
    title = "New dashboard";
  } else if (path === "/dashboard/preview") {
    page = <DashboardPage source={{ kind: "preview" }} time={time} />;
    title = "Dashboard preview";
  } else if (path.startsWith("/d/")) {
    const uid = decodeURIComponent(path.split("/")[2] ?? "");
    page = <DashboardPage source={{ kind: "uid", uid }} time={time} />;
    title = "Dashboard";
  } else page = <div class="page"><div class="card empty">No page at {path}. <Link href="/dashboards">Go to dashboards</Link></div></div>;
  const isDashboard = path.startsWith("/d/") || path.startsWith("/dashboard/");
  const toggleTheme = () => {
    const next = theme === "dark" ? "light" : "dark";
    applyTheme(next);
    setTheme(next);
  };
  let lastSection = "";
  return (
    <div class={`app ${collapsed ? "nav-collapsed" : ""}`}>
      <aside class="sidebar">
        <div class="brand">
          <Logo />
          <span>Panoptes</span>
        </div>
        <nav class="nav">
          {NAV.map((r) => {
            const head = r.section !== lastSection ? <div class="section">{r.section}</div> : null;
            lastSection = r.section;
            return (
              <>
                {head}
                <Link key={r.path} href={r.path} class={route === r ? "active" : ""} title={r.title}>
                  <Icon name={r.icon} size={18} />
                  <span>{r.title}</span>
                </Link>
              </>
            );
          })}
        </nav>
        <div class="sidebar-foot">
          <Button icon variant="ghost" onClick={toggleTheme} title={`Switch to ${theme === "dark" ? "light" : "dark"} theme`} data-testid="theme-toggle">
            <Icon name={theme === "dark" ? "sun" : "moon"} />
          </Button>
          <Button
            icon
            variant="ghost"
            title={collapsed ? "Expand the menu" : "Collapse the menu"}
            onClick={() => {
              localStorage.setItem("panoptes.nav", collapsed ? "open" : "collapsed");
              setCollapsed(!collapsed);
            }}
          >
            <Icon name={collapsed ? "expand" : "collapse"} />
          </Button>
        </div>
      </aside>
      <div class="main">
        {!isDashboard && (
          <header class="topbar">
            <div class="title">{title}</div>
            <span class="spacer" />
            {usesTime(path) && (
              <>
                <TimePicker time={time} />
                <RefreshPicker time={time} />
              </>
            )}
            {!usesTime(path) && <RefreshPicker time={time} />}
          </header>
        )}
        {time.error && <div class="callout error" style={{ margin: "8px 16px 0" }}>{time.error}</div>}
        {page}
      </div>
      <Toasts />
    </div>
  );
}

render(<App />, document.getElementById("app")!);
