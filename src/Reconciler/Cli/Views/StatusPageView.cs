using System.Globalization;
using Reconciler.Daemon;
using Reconciler.Diff.Live;
using Reconciler.Execution;
using Reconciler.State;

namespace Reconciler.Views;

/// <summary>
/// The daemon's read-only status page (`GET /`, docs/cli/run.md): rendered on the server, no JavaScript, refreshed by a
/// meta refresh, laid out for a phone as well as a desk. Per environment: lock and freeze, the in-flight apply (wave,
/// service, batch, each host in words with its gate), the last result, desired against live per service and host
/// (the daemon's live look when it made one, the recorded state otherwise), quarantined commits and recent history.
/// Everything shown comes from status records that hold no secret; all of it is escaped (<see cref="HtmlWriter"/>).
/// </summary>
public static class StatusPageView
{
    public const int RefreshSeconds = 5;

    private const string Css = """
        :root{color-scheme:light dark;--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;--muted:#6e7781}
        body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;padding:12px;max-width:1100px}
        h1{font-size:1.3em;margin:.2em 0}h2{font-size:1.15em;margin:1em 0 .3em}h3{font-size:1em;margin:1em 0 .3em}
        section.env{border:1px solid var(--muted);border-radius:8px;padding:4px 12px 12px;margin:12px 0}
        .meta,.none,.muted{color:var(--muted)}.ok{color:var(--ok)}.bad{color:var(--bad);font-weight:600}.warn{color:var(--warn);font-weight:600}
        .scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
        table{border-collapse:collapse;width:100%;font-size:.93em}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid rgba(127,127,127,.3);vertical-align:top}
        tr.host td:first-child{padding-left:20px}tr.drift,tr.attention{background:rgba(207,34,46,.08)}code{font-size:.92em;word-break:break-all}
        .badge{display:inline-block;border-radius:10px;padding:0 8px;margin-left:6px;font-size:.8em;border:1px solid currentColor}
        dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:.3em 0}dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
        @media (max-width:600px){body{padding:6px;font-size:14px}section.env{padding:2px 8px 8px}dl{grid-template-columns:1fr}dt{margin-top:4px}
        .scroll table,.scroll tbody,.scroll tr,.scroll td{display:block}.scroll thead{display:none}.scroll tr{padding:4px 0;border-bottom:1px solid rgba(127,127,127,.3)}
        .scroll td{border:0;padding:1px 4px;overflow-wrap:anywhere}.scroll td:empty{display:none}.scroll td::before{content:attr(data-label) ": ";color:var(--muted)}
        .scroll tr.host{margin-left:14px}tr.host td:first-child{padding-left:4px}}
        """;

    public static string Render(StatusPage page)
    {
        var w = new HtmlWriter().Doctype();
        w.Open("html", null, ("lang", "en")).Open("head");
        w.Void("meta", ("charset", "utf-8"));
        w.Void("meta", ("name", "viewport"), ("content", "width=device-width, initial-scale=1"));
        w.Void("meta", ("http-equiv", "refresh"), ("content", RefreshSeconds.ToString(CultureInfo.InvariantCulture)));
        w.Element("title", "Reconciler: " + string.Join(", ", page.Environments.Select(e => e.Status.Environment)));
        w.Style(Css).Close();
        w.Open("body").Element("h1", "Reconciler status");
        w.Element("p", $"Read-only. Shown at {ProgressWords.Time(page.At)}; refreshes every {RefreshSeconds}s. JSON: /status.", "meta");
        foreach (var env in page.Environments) Environment(w, env, page.At);
        return w.Close().Close().ToString();
    }

    private static void Environment(HtmlWriter w, EnvironmentPage page, DateTimeOffset now)
    {
        var s = page.Status;
        w.Open("section", "env", ("id", "env-" + s.Environment));
        w.Open("h2").Text("Environment " + s.Environment);
        if (s.InFlight is not null) w.Element("span", "applying", "badge warn");
        if (s.Lock is not null) w.Element("span", "locked", "badge bad");
        if (page.Recorded?.Freeze is not null) w.Element("span", "frozen", "badge bad");
        if (s.Live?.Drifted.Any() == true) w.Element("span", "drift", "badge bad");
        w.Close();

        w.Open("dl");
        Term(w, "Branch head", s.BranchHead is { } head ? ProgressWords.Short(head) : "not fetched yet");
        Term(w, "Last fetch", s.LastFetch is { } f ? $"{ProgressWords.Time(f)} ({ProgressWords.Duration(now - f)} ago)" : "never");
        if (s.FetchError is { } fetchError) Term(w, "Fetch error", fetchError, "bad");
        Term(w, "Lock", s.Lock is { } l ? $"locked by {l.Owner} since {ProgressWords.Time(l.AcquiredAt)}, until {ProgressWords.Time(l.ExpiresAt)}: {l.Reason}" : "not locked",
            s.Lock is null ? "ok" : "bad");
        var freeze = page.Recorded?.Freeze;
        Term(w, "Freeze", freeze is { } fr ? $"frozen by {fr.By} since {ProgressWords.Time(fr.At)}: {fr.Reason}" : page.Recorded is null ? "unknown" : "not frozen",
            freeze is null ? (page.Recorded is null ? null : "ok") : "bad");
        if (s.NextAttempt is { } retry)
            Term(w, "Next attempt", $"{ProgressWords.Short(retry.Commit)} at {ProgressWords.Time(retry.NotBefore)} (attempt {retry.Attempt + 1}): {retry.Reason}", "warn");
        if (s.StoreError is { } storeError) Term(w, "Store", storeError, "bad");
        if (page.RecordedError is { } recordedError) Term(w, "Note", recordedError, "warn");
        w.Close();

        InFlight(w, s.InFlight, now);
        LastResult(w, s.LastResult);
        if (s.Live is { } live) LiveHosts(w, live, now);
        else RecordedHosts(w, page.Recorded);
        Quarantine(w, s.Quarantined);
        History(w, page.History);
        w.Close();
    }

    private static void InFlight(HtmlWriter w, InFlightStatus? inFlight, DateTimeOffset now)
    {
        w.Element("h3", "In-flight apply");
        if (inFlight is null)
        {
            w.Element("p", "No apply is running.", "none");
            return;
        }
        w.Element("p", $"Applying {ProgressWords.Short(inFlight.Commit)}, started {ProgressWords.Time(inFlight.Started)} ({ProgressWords.Duration(now - inFlight.Started)} ago).");
        if (inFlight.Activity is not { } activity) return;
        w.Element("p", "Now: " + activity.Headline, "meta");
        if (activity.Waves.Length > 0)
            w.Element("p", "Waves: " + string.Join("; ", activity.Waves.Select(x =>
                $"wave {x.Wave} {(x.Finished is null ? "running for" : "took")} {ProgressWords.Duration(x.Elapsed(now))}")));
        Table(w, ["Wave", "Service / host", "Batch", "Time", "State"], row =>
        {
            foreach (var service in activity.Services)
            {
                row(null, service.Wave.ToString(CultureInfo.InvariantCulture), service.Service, service.Batch?.ToString(CultureInfo.InvariantCulture) ?? "",
                    ProgressWords.Duration(service.Elapsed(now)), service.State);
                foreach (var host in service.Hosts.Values)
                    row("host", "", host.Host, "", ProgressWords.Duration(now - host.Since) + " in this state", ProgressWords.Host(host, now));
            }
        });
    }

    private static void LastResult(HtmlWriter w, LastResult? last)
    {
        w.Element("h3", "Last result");
        if (last is null)
        {
            w.Element("p", "Nothing applied by this daemon yet.", "none");
            return;
        }
        w.Open("dl");
        Term(w, "Commit", ProgressWords.Short(last.Commit));
        Term(w, "Result", last.Result + (last.Failure is { } kind ? $" ({System.Text.Json.JsonNamingPolicy.KebabCaseLower.ConvertName(kind.ToString())})" : ""), last.Failure is null ? "ok" : "bad");
        Term(w, "When", $"{ProgressWords.Time(last.Finished)}, took {ProgressWords.Duration(last.Finished - last.Started)}");
        Term(w, "Message", last.Message);
        w.Close();
    }

    private static void LiveHosts(HtmlWriter w, ObservedState live, DateTimeOffset now)
    {
        w.Element("h3", "Desired and live, per host");
        w.Element("p", $"Live look at the hosts {ProgressWords.Time(live.ObservedAt)} ({ProgressWords.Duration(now - live.ObservedAt)} ago, took {ProgressWords.Duration(live.Took)}); {live.Drifted.Count()} of {live.Hosts.Length} host(s) drifted.", "meta");
        Table(w, ["Service", "Host", "Desired", "Recorded", "Actual", "Health", "Drift"], row =>
        {
            foreach (var h in live.Hosts.OrderBy(h => h.Service, StringComparer.Ordinal).ThenBy(h => h.Host, StringComparer.Ordinal))
            {
                var drift = h.Drift.IsDefaultOrEmpty ? "none" : string.Join(", ", h.Drift.Select(DriftWords)) + (h.Detail is { } d ? $": {d}" : "");
                row(h.Drift.IsDefaultOrEmpty ? null : "drift", h.Service, h.Host, h.DesiredRelease ?? "(not in the repo)", h.RecordedRelease ?? "(never deployed)",
                    h.ActualRelease ?? "(none)", HealthWords(h.Health), drift);
            }
        });
    }

    private static void RecordedHosts(HtmlWriter w, StatusReport? recorded)
    {
        w.Element("h3", "Desired and recorded, per host");
        if (recorded is null)
        {
            w.Element("p", "The recorded state could not be read.", "none");
            return;
        }
        w.Element("p", "As the store recorded it (no live look at the hosts yet); health is the last gate's result.", "meta");
        Table(w, ["Service / host", "Desired", "Recorded", "State", "Last outcome"], row =>
        {
            foreach (var s in recorded.Services)
            {
                row(s.State == "in-sync" ? null : "attention", s.Service, s.DesiredVersion ?? "(not in the repo)", s.LiveVersion ?? "(not deployed)", s.State, s.LastOutcome ?? "");
                foreach (var h in s.Hosts)
                    row("host", h.Host, "", h.ActiveRelease, h.UnknownBecause is { } why ? "needs attention: " + why : "recorded", "");
            }
        });
    }

    private static void Quarantine(HtmlWriter w, System.Collections.Immutable.ImmutableArray<QuarantineStatus> quarantined)
    {
        w.Element("h3", "Quarantined commits");
        if (quarantined.IsDefaultOrEmpty)
        {
            w.Element("p", "None.", "none");
            return;
        }
        Table(w, ["Commit", "Since", "Reason"], row =>
        {
            foreach (var q in quarantined) row(null, ProgressWords.Short(q.Commit), ProgressWords.Time(q.At), q.Reason);
        });
    }

    private static void History(HtmlWriter w, System.Collections.Immutable.ImmutableArray<HistoryEntry> history)
    {
        w.Element("h3", "Recent history");
        if (history.IsDefaultOrEmpty)
        {
            w.Element("p", "No deploys recorded.", "none");
            return;
        }
        Table(w, ["Commit", "Result", "Finished", "Took", "By", "Services"], row =>
        {
            foreach (var h in history)
                row(h.Result is ApplyResult.Succeeded or ApplyResult.NoChanges ? null : "attention", ProgressWords.Short(h.Commit), StatusReports.Kebab(h.Result),
                    h.Finished is { } f ? ProgressWords.Time(f) : "not finished", h.Finished is { } g ? ProgressWords.Duration(g - h.Started) : "",
                    h.AppliedBy + (h.CommitAuthor is { } a ? $" (author {a})" : ""),
                    string.Join("; ", h.ServiceOutcomes.Select(o => $"{o.Key}: {o.Value}")));
        });
    }

    private static string HealthWords(HostHealth health) => health switch
    {
        HostHealth.Healthy => "healthy",
        HostHealth.Unhealthy => "unhealthy",
        HostHealth.Unreachable => "unreachable",
        _ => "not checked",
    };

    private static string DriftWords(DriftKind kind) => kind switch
    {
        DriftKind.WrongCurrent => "wrong current",
        DriftKind.MissingCurrent => "missing current",
        DriftKind.MissingRelease => "missing release",
        DriftKind.DamagedRelease => "damaged release",
        DriftKind.Unhealthy => "unhealthy",
        DriftKind.Unreachable => "unreachable",
        DriftKind.UnknownHost => "unknown host",
        _ => kind.ToString(),
    };

    private static void Term(HtmlWriter w, string term, string value, string? cssClass = null) =>
        w.Element("dt", term).Element("dd", value, cssClass);

    /// <summary>A table in a box that scrolls sideways on a desk; on a phone each row stacks its cells, each labelled
    /// with its column (data-label), so nothing hides off screen.</summary>
    private delegate void RowWriter(string? cssClass, params string[] cells);

    private static void Table(HtmlWriter w, string[] headers, Action<RowWriter> rows)
    {
        w.Open("div", "scroll").Open("table").Open("thead").Open("tr");
        foreach (var h in headers) w.Element("th", h);
        w.Close().Close().Open("tbody");
        rows((cssClass, cells) =>
        {
            w.Open("tr", cssClass);
            for (var i = 0; i < cells.Length; i++) w.Open("td", null, ("data-label", headers[i])).Text(cells[i]).Close();
            w.Close();
        });
        w.Close().Close().Close();
    }
}
