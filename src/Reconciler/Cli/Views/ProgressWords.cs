using System.Globalization;
using Reconciler.Execution;

namespace Reconciler.Views;

/// <summary>An apply's progress in words people read (the terminal's live view, the summary and the daemon's page):
/// what a host is doing, where its health gate stands, how long things took.</summary>
public static class ProgressWords
{
    public static string Host(HostActivity h, DateTimeOffset now) => (h.Step, h.Status) switch
    {
        ("gate", "checking") when h.Gate is { } g => Gate(g, now),
        ("gate", "passed") => "healthy: gate passed",
        ("gate", "failed") => "unhealthy: gate failed" + (h.Gate?.LastProblem is { } p ? $" ({p})" : ""),
        ("stage", "started") => "staging the new release",
        ("stage", "finished") => "new release staged",
        ("activate", "started") => "switching to the new release",
        ("activate", "finished") => "switched to the new release",
        ("remove", "started") => "removing the service",
        ("remove", "finished") => "service removed",
        ("rollback", var s) => "rolled back " + s,
        (var step, var s) when s.StartsWith("failed: ", StringComparison.Ordinal) => $"{step} failed: {s["failed: ".Length..]}",
        (var step, var s) => $"{step} {s}",
    };

    /// <summary>"health checks: 1/3 passes, 2 failures, 25s left (last: http check: status 503)".</summary>
    public static string Gate(GateProgress g, DateTimeOffset now)
    {
        var failures = g.FailureThreshold is { } limit ? $"{g.Failures}/{limit} failures" : g.Failures == 1 ? "1 failure" : $"{g.Failures} failures";
        var last = g.LastProblem is { } problem ? $" (last: {problem})" : "";
        return $"health checks: {g.PassesSeen}/{g.PassesNeeded} passes, {failures}, {Duration(g.TimeLeft(now))} left{last}";
    }

    /// <summary>"850ms", "12s", "3m 05s", "2h 04m": as precise as a person needs, stable width within a unit.</summary>
    public static string Duration(TimeSpan t)
    {
        if (t < TimeSpan.Zero) t = TimeSpan.Zero;
        return t.TotalSeconds < 1 ? $"{t.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture)}ms"
            : t.TotalMinutes < 1 ? $"{(int)t.TotalSeconds}s"
            : t.TotalHours < 1 ? $"{(int)t.TotalMinutes}m {t.Seconds:00}s"
            : $"{(int)t.TotalHours}h {t.Minutes:00}m";
    }

    /// <summary>A moment as UTC, to the second.</summary>
    public static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    public static string Short(string commit) => commit.Length > 12 && commit.All(char.IsAsciiHexDigit) ? commit[..12] : commit;
}
