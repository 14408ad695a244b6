using System.Collections.Immutable;
using Reconciler.Drivers;
using Reconciler.Drivers.Health;
using Reconciler.Execution;
using Reconciler.Schema.Model;

namespace Reconciler.Live;

/// <summary>What the survey already answered for one service on a host: the listing, whether the recorded release's
/// directory is there (null: not asked), and the check commands it ran with their results.</summary>
internal sealed record SurveyedService(HostReleases Found, bool? ReleaseDirPresent, ImmutableArray<(SurveyCommand Command, CommandResult Result)> Checks);

/// <summary>
/// The live probe's fast path: everything a host's services need asked in one round trip (<see cref="IHostSession.SurveyAsync"/>)
/// instead of one exec for the listing, one per command check and one for the damage check. The queries are the very
/// calls the call-by-call path makes, assuming `current` points at the recorded release (the desired one when nothing
/// is recorded); when it does not, the survey runs no check and the probe asks them as usual. Command checks are asked
/// up to the first check of another kind (the call-by-call path reaches later checks only once that one passed).
/// </summary>
internal static class LiveSurvey
{
    /// <summary>Null when the driver cannot survey (the caller asks call by call); throws as opening the session would.</summary>
    public static async Task<IReadOnlyList<SurveyedService>?> AskAsync(HostSessions sessions, HostSpec host, IReadOnlyList<ProbeTarget> targets,
        CancellationToken ct)
    {
        var session = await sessions.OpenAsync(targets[0].Driver, host).WaitAsync(ct);
        var queries = targets.Select(t => Query(host, t, session)).ToList();
        if (await session.SurveyAsync(queries, ct) is not { } answers) return null;
        return [.. answers.Select((a, i) => new SurveyedService(a.Found, a.ReleaseDirPresent, [.. queries[i].Checks.Zip(a.Checks)]))];
    }

    private static SurveyQuery Query(HostSpec host, ProbeTarget target, IHostSession session)
    {
        var releaseDir = LiveProbe.AsksForDamage(target) ? target.Recorded : null;
        var expected = target.Recorded ?? target.Desired;
        var checks = ImmutableArray.CreateBuilder<SurveyCommand>();
        if (expected is not null && ReleaseLayout.IsValidReleaseId(expected) && target.Health is { Checks.IsDefaultOrEmpty: false } health)
        {
            var context = new ProbeContext(target.Service, expected, host, session, session.PathOnHost(target.Path));
            foreach (var check in health.Checks)
            {
                if (check.Kind != HealthCheckKind.Command || CommandOf(check, context) is not { } command) break;
                checks.Add(new SurveyCommand(command, check.Timeout));
            }
        }
        return new SurveyQuery(target.Path, releaseDir, checks.Count > 0 ? expected : null, checks.ToImmutable());
    }

    /// <summary>Null where the probe would not run the check on the host (a blank command, an unknown ${...}).</summary>
    private static string? CommandOf(HealthCheckSpec check, ProbeContext context)
    {
        try
        {
            var command = CommandProbe.CommandOf(check, context);
            return string.IsNullOrWhiteSpace(command) ? null : command;
        }
        catch (InterpolationException)
        {
            return null;
        }
    }
}
