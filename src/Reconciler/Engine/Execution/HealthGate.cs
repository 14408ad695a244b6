using System.Collections.Immutable;
using Reconciler.Drivers;
using Reconciler.Schema.Model;
using Reconciler.Telemetry;

namespace Reconciler.Execution;

/// <summary>One host to gate: the session command checks run over, and the release it should be running.</summary>
public sealed record GateTarget(HostSpec Host, IHostSession Session, string ReleaseId, string? DeployPath = null);

/// <summary><see cref="Cause"/> of a failed gate: the commit's, unless every failing host failed because it could not be
/// reached at all (its session broke: the host, not the release, is at fault).</summary>
public sealed record GateResult(bool Passed, string Detail, FailureKind Cause = FailureKind.CommitFault)
{
    public static GateResult Pass(string detail) => new(true, detail);
}

/// <summary>
/// The health gate after a batch. Every host runs every check each <see cref="HealthSpec.Interval"/>; a host
/// passes after <see cref="HealthSpec.ConsecutivePasses"/> consecutive all-green rounds AND once it has stayed
/// green for <see cref="HealthSpec.MinHealthy"/>; the gate fails when any host has not passed by
/// <see cref="HealthSpec.Deadline"/>, or at once when it fails <see cref="HealthSpec.FailureThreshold"/> rounds in a row
/// (opt-in; rounds before <see cref="HealthSpec.InitialDelay"/> do not count). All timing comes from the injected
/// TimeProvider so tests use fake time.
/// </summary>
public sealed class HealthGate(IHealthProbe probe, TimeProvider time)
{
    /// <summary>Waits for every target to pass. Cancelling <paramref name="ct"/> throws OperationCanceledException.</summary>
    /// <param name="onRound">Told after every round of checks on a host (its name and where its gate stands): the
    /// progress views and the daemon's page show passes, failures and the time left from it.</param>
    public async Task<GateResult> WaitAsync(string service, HealthSpec health, IReadOnlyList<GateTarget> targets,
        string environment, string commit, CancellationToken ct, Action<string, GateProgress>? onRound = null)
    {
        using var span = ReconcilerTelemetry.Start("gate", environment, commit);
        span?.SetTag("reconciler.service", service);
        span?.SetTag("reconciler.hosts", string.Join(",", targets.Select(t => t.Host.Name)));
        if (health.Checks.IsDefaultOrEmpty || targets.Count == 0)
            return GateResult.Pass("no health checks");

        using var firstFailure = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var results = await Task.WhenAll(targets.Select(t => WaitHostAsync(service, health, t, firstFailure, onRound)));
        ct.ThrowIfCancellationRequested();
        var failed = results.Where(r => !r.Passed).ToList();
        if (failed.Count == 0)
        {
            span?.SetTag("reconciler.gate.result", "passed");
            return GateResult.Pass($"{targets.Count} host(s) healthy");
        }
        // Hosts cancelled because another host failed first report nothing useful; name the real failures.
        var reported = failed.Where(r => r.Detail.Length > 0).ToList();
        var detail = string.Join("; ", reported.Select(r => r.Detail));
        var cause = reported.Count > 0 && reported.All(r => r.Cause == FailureKind.EnvironmentFault) ? FailureKind.EnvironmentFault : FailureKind.CommitFault;
        span?.SetTag("reconciler.gate.result", "failed");
        span?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, detail);
        ReconcilerTelemetry.GateFailures.Add(1, ReconcilerTelemetry.MetricTags(environment));
        return new GateResult(false, detail, cause);
    }

    private async Task<GateResult> WaitHostAsync(string service, HealthSpec health, GateTarget target, CancellationTokenSource gate,
        Action<string, GateProgress>? onRound)
    {
        var ct = gate.Token;
        var started = time.GetUtcNow();
        var deadline = started + health.Deadline;
        var passes = 0;
        var failures = 0;   // consecutive failed rounds after the initial delay
        DateTimeOffset? healthySince = null;
        var lastProblem = "no check has run yet";
        var unreachable = false;   // the last failed round failed because the host could not be reached
        var context = new ProbeContext(service, target.ReleaseId, target.Host, target.Session, target.DeployPath);
        try
        {
            while (true)
            {
                ct.ThrowIfCancellationRequested();
                var (problem, hostUnreachable) = await RunChecksAsync(health.Checks, context, ct);
                var now = time.GetUtcNow();
                if (problem is null)
                {
                    passes++;
                    failures = 0;
                    healthySince ??= now;
                }
                else
                {
                    passes = 0;
                    healthySince = null;
                    lastProblem = problem;
                    unreachable = hostUnreachable;
                    if (now - started >= health.InitialDelay) failures++;
                }
                onRound?.Invoke(target.Host.Name, new GateProgress(passes, health.ConsecutivePasses, failures, health.FailureThreshold, deadline, problem));
                if (healthySince is { } since && passes >= health.ConsecutivePasses && now - since >= health.MinHealthy)
                    return GateResult.Pass($"{target.Host.Name}: healthy");
                if (problem is not null && health.FailureThreshold is { } threshold && failures >= threshold)
                {
                    await gate.CancelAsync();
                    return new GateResult(false, $"{target.Host.Name}: {failures} consecutive failed checks (failureThreshold {threshold}): {problem}",
                        unreachable ? FailureKind.EnvironmentFault : FailureKind.CommitFault);
                }
                if (now >= deadline)
                {
                    var why = problem is null
                        ? $"healthy for {passes} consecutive check(s) but not yet for {health.ConsecutivePasses} passes and {ReconcilerFormat.Duration(health.MinHealthy)}"
                        : lastProblem;
                    await gate.CancelAsync(); // one host missing its deadline fails the batch: stop the others' waits
                    return new GateResult(false, $"{target.Host.Name}: not healthy within {ReconcilerFormat.Duration(health.Deadline)}: {why}",
                        problem is not null && unreachable ? FailureKind.EnvironmentFault : FailureKind.CommitFault);
                }
                var wait = health.Interval < deadline - now ? health.Interval : deadline - now;
                await Task.Delay(wait, time, ct);
            }
        }
        catch (OperationCanceledException) when (gate.IsCancellationRequested)
        {
            // Cancelled by a sibling's failure (or by the caller; WaitAsync rethrows that case).
            return new GateResult(false, "");
        }
    }

    /// <summary>Runs every check once; returns null when all are healthy, else what failed, and whether it failed because
    /// the host itself could not be reached (its session broke), not because the release answered badly.</summary>
    private async Task<(string? Problem, bool HostUnreachable)> RunChecksAsync(ImmutableArray<HealthCheckSpec> checks, ProbeContext context, CancellationToken ct)
    {
        foreach (var check in checks)
        {
            ProbeResult result;
            var unreachable = false;
            try
            {
                using var timeout = new CancellationTokenSource(check.Timeout, time);
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, timeout.Token);
                try
                {
                    result = await probe.ProbeAsync(check, context, linked.Token);
                }
                catch (OperationCanceledException) when (timeout.IsCancellationRequested && !ct.IsCancellationRequested)
                {
                    result = new ProbeResult(false, $"timed out after {ReconcilerFormat.Duration(check.Timeout)}");
                }
            }
            catch (OperationCanceledException) { throw; }
            catch (Exception e)
            {
                // A probe that throws (connection refused, DNS) is simply unhealthy; the gate decides.
                result = new ProbeResult(false, e.Message);
                unreachable = e is HostStepException { Kind: FailureKind.EnvironmentFault };
            }
            if (!result.Healthy)
                return ($"{check.Kind.ToString().ToLowerInvariant()} check: {result.Detail}", unreachable);
        }
        return (null, false);
    }
}

internal static class ReconcilerFormat
{
    public static string Duration(TimeSpan t) => Reconciler.Diff.Planning.ServiceFields.Duration(t);
}
