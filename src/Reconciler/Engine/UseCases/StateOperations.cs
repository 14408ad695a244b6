using System.Globalization;
using Reconciler.Diff.Live;
using Reconciler.State;

namespace Reconciler.UseCases;

/// <summary>Which environment of which store a `reconciler state` subcommand works on.</summary>
/// <param name="Repo">--repo as typed: where <c>state:</c> (reconciler.yaml) and the default SQLite store are.</param>
public sealed record StateTarget(string Repo, string Environment, string? StateUrl);

/// <summary>An environment's live state as `state show` shows it.</summary>
public sealed record StateSnapshot(
    string Environment, string Store, long Version, string? LastGoodCommit, LockInfo? Lock, FreezeInfo? Freeze,
    IReadOnlyList<QuarantinedCommit> Quarantined,
    IReadOnlyDictionary<string, LiveService> Services, IReadOnlyDictionary<string, LiveToggle> Toggles);

/// <summary>`state unlock`: <see cref="HeldBy"/> is who held the lock (null: it was free).</summary>
public sealed record UnlockResult(string Environment, bool Released, string? HeldBy);

/// <summary>`state freeze`: the freeze now in force.</summary>
public sealed record FreezeResult(string Environment, FreezeInfo Freeze);

/// <summary>`state unquarantine`: the quarantine that was lifted and the history entry that records it.</summary>
public sealed record UnquarantineResult(string Environment, QuarantinedCommit Lifted, HistoryEntry Recorded);

/// <summary>`state unfreeze`: the freeze that was lifted (null: it was not frozen).</summary>
public sealed record UnfreezeResult(string Environment, FreezeInfo? WasFrozen);

/// <summary>
/// `reconciler state show|history|lock|unlock|freeze|unfreeze|unquarantine` (docs/cli/state.md). Only the store's URL is read from
/// the repo (<c>state:</c> in reconciler.yaml), so a broken service file keeps no one from inspecting or unlocking an
/// environment.
/// </summary>
public sealed class StateOperations(TimeProvider time)
{
    public Task<UseCaseResult<StateSnapshot>> ShowAsync(StateTarget target, CancellationToken ct) => WithStore(target, async (store, env) =>
    {
        var live = await store.ReadAsync(env, ct);
        return new StateSnapshot(env, store.Describe, live.Version, live.LastGoodCommit,
            await store.ReadLockAsync(env, ct), await store.ReadFreezeAsync(env, ct), await store.ReadQuarantineAsync(env, ct),
            live.Services, live.Toggles);
    });

    public Task<UseCaseResult<HistoryReport>> HistoryAsync(StateTarget target, int limit, CancellationToken ct) =>
        WithStore(target, async (store, env) => new HistoryReport(env, await store.ReadHistoryAsync(env, limit, ct)),
            check: () =>
            {
                if (limit <= 0) throw Invalid($"--limit must be a positive number, got {limit}.");
            });

    /// <summary>Takes the lock for <paramref name="ttl"/> (re-locking as the same owner refreshes it); held by someone
    /// else is <see cref="FailureKind.LockedOrFrozen"/>, saying who, since when and how to break it.</summary>
    public Task<UseCaseResult<LockInfo>> LockAsync(StateTarget target, string owner, string reason, TimeSpan ttl, CancellationToken ct) =>
        WithStore(target, async (store, env) =>
        {
            var attempt = await store.TryAcquireLockAsync(env, owner, reason, ttl, ct);
            if (!attempt.Acquired) throw LockedBy(attempt.Holder);
            return attempt.Holder;
        });

    /// <summary>Releases <paramref name="owner"/>'s lock, or anyone's with <paramref name="force"/>; a free environment is
    /// not an error.</summary>
    public Task<UseCaseResult<UnlockResult>> UnlockAsync(StateTarget target, string owner, bool force, CancellationToken ct) =>
        WithStore(target, async (store, env) =>
        {
            var held = await store.ReadLockAsync(env, ct);
            if (held is null) return new UnlockResult(env, false, null);
            if (held.Owner != owner && !force)
                throw new ReconcilerException(FailureKind.LockedOrFrozen, $"environment '{env}' is locked by {held.Owner}, not by {owner}: {held.Reason}. " +
                                                                          $"Use --owner {held.Owner}, or --force to break it.");
            var released = await store.ReleaseLockAsync(env, owner, force, ct);
            return new UnlockResult(env, released, held.Owner);
        });

    public Task<UseCaseResult<FreezeResult>> FreezeAsync(StateTarget target, string reason, string by, CancellationToken ct) =>
        WithStore(target, async (store, env) =>
        {
            var freeze = new FreezeInfo(reason, by, time.GetUtcNow());
            await store.SetFreezeAsync(env, freeze, ct);
            return new FreezeResult(env, freeze);
        }, check: () =>
        {
            if (string.IsNullOrWhiteSpace(reason)) throw Invalid("--reason must not be empty: say why the environment is frozen.");
        });

    /// <summary>Lifts the freeze; not being frozen is not an error.</summary>
    public Task<UseCaseResult<UnfreezeResult>> UnfreezeAsync(StateTarget target, CancellationToken ct) => WithStore(target, async (store, env) =>
    {
        var was = await store.ReadFreezeAsync(env, ct);
        await store.SetFreezeAsync(env, null, ct);
        return new UnfreezeResult(env, was);
    });

    /// <summary>Lifts a commit's quarantine (it was quarantined for a fault that was not its own, say) so that `apply` and
    /// `run` try it again; <paramref name="commit"/> is the full SHA or an unambiguous prefix of one quarantined commit.
    /// The history records who lifted it and why.</summary>
    public Task<UseCaseResult<UnquarantineResult>> UnquarantineAsync(StateTarget target, string commit, string reason, string by, CancellationToken ct) =>
        WithStore(target, async (store, env) =>
        {
            var matches = (await store.ReadQuarantineAsync(env, ct)).Where(q => q.Commit.StartsWith(commit.Trim(), StringComparison.OrdinalIgnoreCase)).ToList();
            var lifted = matches.Count switch
            {
                0 => throw Invalid($"commit {commit} is not quarantined in '{env}'; `reconciler state show --env {env}` lists the quarantined commits."),
                1 => matches[0],
                _ => throw Invalid($"'{commit}' matches {matches.Count} quarantined commits in '{env}' ({string.Join(", ", matches.Select(m => m.Commit))}); give more of the SHA."),
            };
            await store.UnquarantineAsync(env, lifted.Commit, ct);
            var now = time.GetUtcNow();
            var entry = new HistoryEntry($"{now:yyyyMMddTHHmmssZ}-unquarantine", env, lifted.Commit, null, by, now, now, ApplyResult.Unquarantined,
                System.Collections.Immutable.ImmutableSortedDictionary<string, string>.Empty,
                $"quarantine lifted by {by}: {reason.Trim()} (it was quarantined at {Time(lifted.At)}: {lifted.Reason})");
            await store.AppendHistoryAsync(entry, ct);
            return new UnquarantineResult(env, lifted, entry);
        }, check: () =>
        {
            if (string.IsNullOrWhiteSpace(commit)) throw Invalid("give the commit to unquarantine: `reconciler state unquarantine SHA --env ENV --reason \"...\"`.");
            if (string.IsNullOrWhiteSpace(reason)) throw Invalid("--reason must not be empty: say why the commit may be applied again (it is recorded in the history).");
        });

    /// <summary>Checks the environment's name and then <paramref name="check"/> (the arguments) before the store is
    /// opened, and returns any failure as a value.</summary>
    private Task<UseCaseResult<T>> WithStore<T>(StateTarget target, Func<IStateStore, string, Task<T>> operation, Action? check = null) where T : class =>
        UseCaseResult.CatchAsync(async () =>
        {
            StateNames.Check("environment", target.Environment);
            check?.Invoke();
            var repo = Path.GetFullPath(target.Repo);
            await using var store = StateStores.Locate(target.StateUrl, repo).Open(time);
            return await operation(store, target.Environment);
        });

    private static ReconcilerException LockedBy(LockInfo holder) => new(FailureKind.LockedOrFrozen,
        $"environment '{holder.Environment}' is locked by {holder.Owner} since {Time(holder.AcquiredAt)} (expires {Time(holder.ExpiresAt)}): {holder.Reason}. " +
        $"Wait for it, ask {holder.Owner}, or break it with `reconciler state unlock --env {holder.Environment} --force`.");

    private static ReconcilerException Invalid(string message) => new(FailureKind.InvalidInput, message);

    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);
}
