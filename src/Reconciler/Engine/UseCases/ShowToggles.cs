using Reconciler.Daemon;
using Reconciler.Git;
using Reconciler.State;
using Reconciler.Toggles;

namespace Reconciler.UseCases;

/// <param name="Repo">--repo as typed; toggles are read from its HEAD commit, as `status` reads services.</param>
/// <param name="Environment">Only this environment's rows (readiness to remove still looks at every environment).</param>
public sealed record TogglesRequest(string Repo, string? Environment, string? StateUrl);

/// <summary>`reconciler toggles` (docs/cli/toggles.md): every toggle of the repo and of live state, per environment.</summary>
public static class ShowToggles
{
    /// <summary>How far back history is searched for when a toggle written before flip times were stored was switched.</summary>
    private const int HistoryDepth = 1000;

    public static Task<UseCaseResult<ToggleCatalogReport>> RunAsync(TogglesRequest request, TimeProvider time, CancellationToken ct) => UseCaseResult.CatchAsync(async () =>
    {
        var loader = new GitDesiredStateLoader(new FileParseCache(FileParseCache.DefaultDirectory(request.Repo)));
        var model = loader.LoadModel(request.Repo, ShowStatus.HeadOf(request.Repo));
        if (request.Environment is { } only && !model.Environments.ContainsKey(only))
            throw new ReconcilerException(FailureKind.InvalidInput,
                $"--env {only}: the repo has no such environment; it has {string.Join(", ", model.Environments.Keys)}.");

        await using var store = StateStores.Open(request.StateUrl, model.Repository.StateUrl, request.Repo, time);
        var records = new Dictionary<string, EnvironmentRecords>(StringComparer.Ordinal);
        foreach (var environment in model.Environments.Keys)
        {
            var live = await store.ReadAsync(environment, ct);
            var needsHistory = live.Toggles.Values.Any(t => t.ChangedAt is null);
            records[environment] = new EnvironmentRecords(live, needsHistory ? await store.ReadHistoryAsync(environment, HistoryDepth, ct) : []);
        }
        return ToggleCatalog.Build(model, records, time.GetUtcNow(), request.Environment);
    });
}
