using System.Collections.Immutable;
using Reconciler.Diff.Live;
using Reconciler.Git;
using Reconciler.Schema.Loading;
using Reconciler.Schema.Model;
using Reconciler.State;

namespace Reconciler.Bench;

/// <summary>
/// Writes into the repo's state store what a complete apply of REV would leave behind, in every environment, so
/// `bench/plan.sh` can plan a one-file change against a converged production-like state (the pull-request case)
/// as well as against an empty store.
/// </summary>
internal static class StateSeeder
{
    public static async Task<int> RunAsync(string repoDirectory, string revision, string? stateUrl)
    {
        using var infra = InfraRepo.Open(repoDirectory, revision);
        var result = RepoLoader.Load(infra.Source, null, CoreParallelism.Load);
        if (result.HasErrors)
        {
            foreach (var d in result.Diagnostics) Console.Error.WriteLine(d);
            return 1;
        }
        var model = result.Model!;
        await using var store = StateStores.Open(StateStores.Locate(stateUrl, infra.Directory).Url ?? model.Repository.StateUrl, infra.Directory, TimeProvider.System);
        foreach (var environment in model.Environments.Keys)
        {
            var applied = LiveProjection.AsApplied(DesiredStateBuilder.Build(model, environment) with { Revision = infra.BoundRevision });
            var current = await store.ReadAsync(environment, CancellationToken.None);
            var change = new StateChange([.. applied.Services.Values], [.. current.Services.Keys.Except(applied.Services.Keys)],
                [.. applied.Toggles.Values], [.. current.Toggles.Keys.Except(applied.Toggles.Keys)], infra.BoundRevision);
            var version = await store.WriteAsync(environment, current.Version, change, CancellationToken.None);
            Console.WriteLine($"{environment}: {applied.Services.Count} services, {applied.Toggles.Count} toggles at {infra.BoundRevision[..12]} (state version {version})");
        }
        return 0;
    }

    /// <summary>Times reading every environment's live state from the repo's store, three rounds (the first pays start-up).</summary>
    public static async Task<int> TimeReadsAsync(string repoDirectory)
    {
        var directory = Path.GetFullPath(repoDirectory);
        for (var round = 1; round <= 3; round++)
        {
            await using var store = StateStores.Open(StateStores.Locate(null, directory).Url ?? "sqlite:.reconciler/state.db", directory, TimeProvider.System);
            foreach (var environment in new[] { "dev", "production", "staging" })
            {
                var cpu = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
                var wall = System.Diagnostics.Stopwatch.StartNew();
                var live = await store.ReadAsync(environment, CancellationToken.None);
                Console.WriteLine($"round {round} {environment}: {live.Services.Count} services in {wall.ElapsedMilliseconds} ms ({(System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds:F0} ms CPU)");
            }
        }
        return 0;
    }
}
