using System.Collections.Immutable;
using Reconciler.Drivers;
using Reconciler.Drivers.Secrets;
using Reconciler.Schema.Model;

namespace Reconciler.Execution;

/// <summary>
/// The secrets of one apply run and the one <see cref="SecretRedactor"/> that cleans host output of them. Every value
/// the run resolves is registered; before output is cleaned, the secret references of every service the commit
/// defines are resolved once as well (a resumed apply never staged, so it never resolved them, yet its restart
/// commands print the same config). A reference that cannot be resolved has no value to leak and is skipped here;
/// staging reports it.
/// </summary>
internal sealed class RunSecrets : ISecretResolver
{
    private readonly ISecretResolver _resolver;
    private readonly Lazy<Task> _all;

    public RunSecrets(ISecretResolver resolver, DesiredState desired)
    {
        _resolver = resolver;
        _all = new(() => ResolveAllAsync(resolver, desired), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    public SecretRedactor Redactor { get; } = new();

    public async Task<string> ResolveAsync(string reference, CancellationToken ct)
    {
        var value = await _resolver.ResolveAsync(reference, ct);
        Redactor.Add(value);
        return value;
    }

    /// <summary>Host output, cleaned of every secret of this commit and bounded.</summary>
    public async Task<string> CleanAsync(string text)
    {
        await _all.Value;
        return Redactor.Clean(text);
    }

    private async Task ResolveAllAsync(ISecretResolver inner, DesiredState state)
    {
        var references = state.Services.Values.SelectMany(s => s.Config.Values).OfType<ConfigValue.Secret>()
            .Select(s => s.Reference).Distinct(StringComparer.Ordinal);
        foreach (var reference in references)
        {
            try
            {
                Redactor.Add(await inner.ResolveAsync(reference, CancellationToken.None));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Unresolvable here means nothing to hide; the stage that needs it fails with its own message.
            }
        }
    }
}

/// <summary>A host session whose output enters the engine cleaned: failures come back as <see cref="HostStepException"/>
/// with a cleaned message and without the raw inner exception; command output is cleaned.</summary>
internal sealed class CleanedSession(IHostSession inner, RunSecrets secrets) : IHostSession
{
    public HostSpec Host => inner.Host;

    public string PathOnHost(string deployPath) => inner.PathOnHost(deployPath);

    public Task<long?> FreeBytesAsync(string deployPath, CancellationToken ct) => Guard("free space", () => inner.FreeBytesAsync(deployPath, ct));

    public Task<HostReleases> InspectAsync(string deployPath, CancellationToken ct) => Guard("inspect", () => inner.InspectAsync(deployPath, ct));

    public Task StageAsync(ReleaseBundle bundle, CancellationToken ct) => Guard("stage", () => inner.StageAsync(bundle, ct));

    public Task ActivateAsync(string deployPath, string releaseId, string? restartCommand, CancellationToken ct) =>
        Guard("activate", () => inner.ActivateAsync(deployPath, releaseId, restartCommand, ct));

    public async Task<string?> ActivateAndPruneAsync(string deployPath, string releaseId, string? restartCommand, int keep,
        ImmutableArray<string> protect, CancellationToken ct) =>
        await Guard("activate", () => inner.ActivateAndPruneAsync(deployPath, releaseId, restartCommand, keep, protect, ct)) is { } warning
            ? await secrets.CleanAsync(warning) : null;

    public async Task<CommandResult> RunAsync(string command, TimeSpan timeout, CancellationToken ct)
    {
        var result = await Guard("command", () => inner.RunAsync(command, timeout, ct));
        return result with { Output = await secrets.CleanAsync(result.Output) };
    }

    public async Task<IReadOnlyList<SurveyAnswer>?> SurveyAsync(IReadOnlyList<SurveyQuery> queries, CancellationToken ct)
    {
        if (await Guard("inspect", () => inner.SurveyAsync(queries, ct)) is not { } answers) return null;
        var cleaned = new List<SurveyAnswer>(answers.Count);
        foreach (var answer in answers)
        {
            var checks = ImmutableArray.CreateBuilder<CommandResult>(answer.Checks.Length);
            foreach (var check in answer.Checks) checks.Add(check with { Output = await secrets.CleanAsync(check.Output) });
            cleaned.Add(answer with { Checks = checks.MoveToImmutable() });
        }
        return cleaned;
    }

    public Task PruneAsync(string deployPath, int keep, ImmutableArray<string> protect, CancellationToken ct) =>
        Guard("prune", () => inner.PruneAsync(deployPath, keep, protect, ct));

    public Task RemoveAsync(string deployPath, string? stopCommand, CancellationToken ct) =>
        Guard("remove", () => inner.RemoveAsync(deployPath, stopCommand, ct));

    private Task Guard(string step, Func<Task> work) => Guard(step, async () =>
    {
        await work();
        return true;
    });

    // The raw exception is not kept as the inner one (its message is the uncleaned output); its own cause is, so that
    // what failed (a dropped connection, say) can still be told by type.
    private async Task<T> Guard<T>(string step, Func<Task<T>> work)
    {
        try
        {
            return await work();
        }
        catch (HostStepException e)
        {
            throw new HostStepException(e.HostName, e.Step, await secrets.CleanAsync(e.Detail), e.InnerException, e.Kind);
        }
        catch (Exception e) when (e is not OperationCanceledException and not ReconcilerException)
        {
            throw new HostStepException(Host.Name, step, await secrets.CleanAsync(e.Message), e.InnerException ?? e);
        }
    }
}

/// <summary>Health probes whose details (command output, HTTP errors) enter the engine cleaned.</summary>
internal sealed class CleanedProbe(IHealthProbe inner, RunSecrets secrets) : IHealthProbe
{
    public async Task<ProbeResult> ProbeAsync(HealthCheckSpec check, ProbeContext context, CancellationToken ct)
    {
        try
        {
            var result = await inner.ProbeAsync(check, context, ct);
            return result with { Detail = await secrets.CleanAsync(result.Detail) };
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // As HealthGate does for a throwing probe: unhealthy, with the reason.
            return new ProbeResult(false, await secrets.CleanAsync(e.Message));
        }
    }
}
