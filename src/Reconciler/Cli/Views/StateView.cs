using System.Globalization;
using System.Text;
using Reconciler.State;
using Reconciler.UseCases;

namespace Reconciler.Views;

/// <summary>`reconciler state ...` (docs/cli/state.md): text for people, or the product's JSON.</summary>
public static class StateView
{
    public static string RenderShow(StateSnapshot v, bool json) => json ? JsonView.Render(v) : RenderShowText(v);

    public static string RenderLock(LockInfo holder, bool json) => json
        ? JsonView.Render(holder)
        : $"locked environment '{holder.Environment}' for {holder.Owner} until {Time(holder.ExpiresAt)}: {holder.Reason}\n";

    public static string RenderUnlock(UnlockResult r, bool json) => json
        ? JsonView.Render(r)
        : r.Released ? $"unlocked environment '{r.Environment}' (was held by {r.HeldBy})\n" : $"environment '{r.Environment}' is not locked\n";

    public static string RenderFreeze(FreezeResult r, bool json) => json
        ? JsonView.Render(r.Freeze)
        : $"froze environment '{r.Environment}': {r.Freeze.Reason}\n";

    public static string RenderUnfreeze(UnfreezeResult r, bool json) => json
        ? JsonView.Render(new UnfreezeJson(r.Environment, r.WasFrozen is not null))
        : r.WasFrozen is { } was
            ? $"unfroze environment '{r.Environment}' (was frozen by {was.By}: {was.Reason})\n"
            : $"environment '{r.Environment}' was not frozen\n";

    public static string RenderUnquarantine(UnquarantineResult r, bool json) => json
        ? JsonView.Render(r.Recorded)
        : $"lifted the quarantine of {r.Lifted.Commit} in {r.Environment}; recorded in history: {r.Recorded.Message}\n";

    /// <summary>`state unfreeze --format json`.</summary>
    internal sealed record UnfreezeJson(string Environment, bool WasFrozen);

    private static string RenderShowText(StateSnapshot v)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"environment  {v.Environment}\n");
        sb.Append(CultureInfo.InvariantCulture, $"store        {v.Store}\n");
        sb.Append(CultureInfo.InvariantCulture, $"version      {v.Version}\n");
        sb.Append(CultureInfo.InvariantCulture, $"last good    {v.LastGoodCommit ?? "(none)"}\n");
        sb.Append("lock         ").Append(v.Lock is { } l
            ? $"held by {l.Owner} since {Time(l.AcquiredAt)}, expires {Time(l.ExpiresAt)}: {l.Reason}" : "free").Append('\n');
        sb.Append("freeze       ").Append(v.Freeze is { } f ? $"frozen by {f.By} since {Time(f.At)}: {f.Reason}" : "not frozen").Append('\n');
        sb.Append(CultureInfo.InvariantCulture, $"quarantined  {v.Quarantined.Count}\n");
        foreach (var q in v.Quarantined)
            sb.Append(CultureInfo.InvariantCulture, $"  {q.Commit}  {Time(q.At)}  {q.Reason}\n");
        sb.Append(CultureInfo.InvariantCulture, $"services     {v.Services.Count}\n");
        var nameWidth = v.Services.Keys.Select(k => k.Length).DefaultIfEmpty(0).Max();
        var versionWidth = v.Services.Values.Select(s => s.Version.Length).DefaultIfEmpty(0).Max();
        foreach (var s in v.Services.Values)
        {
            sb.Append(CultureInfo.InvariantCulture, $"  {s.Name.PadRight(nameWidth)}  {s.Version.PadRight(versionWidth)}  release {s.ReleaseId}  config {Short(s.ConfigHash)}  commit {Short(s.Commit)}\n");
            foreach (var h in s.Hosts.Values)
                sb.Append(CultureInfo.InvariantCulture, $"    {h.Host}  {h.ActiveRelease}{(h.PreviousRelease is { } prev ? $"  (previous {prev})" : "")}\n");
        }
        sb.Append(CultureInfo.InvariantCulture, $"toggles      {v.Toggles.Count}\n");
        var toggleWidth = v.Toggles.Keys.Select(k => k.Length).DefaultIfEmpty(0).Max();
        foreach (var t in v.Toggles.Values)
            sb.Append(CultureInfo.InvariantCulture, $"  {t.Name.PadRight(toggleWidth)}  {(t.Enabled ? "on " : "off")}  commit {Short(t.Commit)}\n");
        return sb.ToString();
    }

    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static string Short(string hashOrCommit) => hashOrCommit.Length > 12 ? hashOrCommit[..12] : hashOrCommit;
}
