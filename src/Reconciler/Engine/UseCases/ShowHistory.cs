using Reconciler.State;

namespace Reconciler.UseCases;

/// <param name="Repo">--repo as typed: where <c>state:</c> and the default SQLite store are.</param>
public sealed record HistoryRequest(string Repo, string Environment, int Limit, string? StateUrl);

/// <summary>An environment's deploys, newest first (empty when nothing was ever recorded).</summary>
public sealed record HistoryReport(string Environment, IReadOnlyList<HistoryEntry> Entries);

/// <summary>`reconciler history`: who deployed what, when, with what result (docs/cli/history.md). Only the store's
/// URL is read from the repo, so a broken service file keeps no one from reading history; reading never creates a
/// store.</summary>
public static class ShowHistory
{
    public const int MaxLimit = 10_000;

    public static Task<UseCaseResult<HistoryReport>> RunAsync(HistoryRequest request, TimeProvider time, CancellationToken ct) => UseCaseResult.CatchAsync(async () =>
    {
        StateNames.Check("environment", request.Environment);
        if (request.Limit is < 1 or > MaxLimit)
            throw new ReconcilerException(FailureKind.InvalidInput, $"--limit {request.Limit} is out of range; use 1..{MaxLimit}.");
        var directory = Path.GetFullPath(request.Repo);
        if (request.StateUrl is null && !Directory.Exists(directory))
            throw new ReconcilerException(FailureKind.InvalidInput,
                $"--repo {request.Repo}: no such directory. Pass the directory that holds reconciler.yaml, or --state URL.");
        var location = StateStores.Locate(request.StateUrl, directory);
        if (!location.Exists) return new HistoryReport(request.Environment, []);
        await using var store = location.Open(time);
        return new HistoryReport(request.Environment, await store.ReadHistoryAsync(request.Environment, request.Limit, ct));
    });
}
