using System.Collections.Immutable;
using Reconciler.Diff.Planning;
using Reconciler.Schema.Loading;
using Reconciler.Schema.Model;
using Reconciler.State;

namespace Reconciler.UseCases;

/// <summary>What to plan (`reconciler plan`, docs/cli/plan.md). The option combinations are the caller's to check.</summary>
/// <param name="Repo">The infra repo directory (a Git work tree or a subdirectory of one).</param>
/// <param name="Revision">Plan this commit, read straight from Git; null: the files on disk.</param>
/// <param name="Environment">The environment to plan; null: every one with <paramref name="AllEnvironments"/>, else the
/// only one.</param>
/// <param name="LiveFile">Live state of the one environment from this JSON file instead of the state store.</param>
/// <param name="StateUrl">The state store (--state); null: the usual resolution (<see cref="State.StateStores.Locate(string?, string?, string)"/>).</param>
/// <param name="BaseRevision">Plan relative to this commit instead of live state (PR previews).</param>
public sealed record PlanRequest(
    string Repo,
    string? Revision = null,
    string? Environment = null,
    bool AllEnvironments = false,
    string? LiveFile = null,
    string? StateUrl = null,
    string? BaseRevision = null)
{
    /// <summary>The clock the store's lock expiry is judged by (tests pass a fake one).</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>False: always plan in full (the reference the incremental plan is tested against), never from the
    /// snapshot of the last plan (<see cref="IncrementalPlan"/>). The snapshot is written either way.</summary>
    public bool Incremental { get; init; } = true;
}

/// <summary>
/// The plans, one per environment in name order, or the failure that stopped planning; either way the statistics of
/// what was done (for --verbose). A repo that does not load comes back with its diagnostics.
/// </summary>
public sealed record PlanOutcome
{
    public ImmutableArray<Plan> Plans { get; init; } = [];

    /// <summary>Null on success.</summary>
    public Failure? Failure { get; init; }

    /// <summary>Set when the repo (or the base commit's) did not load: every finding, and where it was read.</summary>
    public InvalidRepo? InvalidRepo { get; init; }

    /// <summary>Each load of the repo, in order: the commit planned, then the base commit.</summary>
    public ImmutableArray<RepoLoadReport> Loads { get; init; } = [];

    /// <summary>New parse-cache entries written after the loads (null when the cache was not written).</summary>
    public ParseCacheWrite? ParseCacheWrite { get; init; }

    /// <summary>Where each planned environment's time went, in environment name order.</summary>
    public ImmutableArray<EnvironmentPlanReport> Environments { get; init; } = [];

    /// <summary>Each environment planned against the state store: its lock and freeze as read at plan time. An
    /// environment planned from --live or --base is absent: its lock and freeze were not read.</summary>
    public ImmutableSortedDictionary<string, EnvironmentGate> Gates { get; init; } = ImmutableSortedDictionary<string, EnvironmentGate>.Empty;

    /// <summary>Wall and process CPU time of planning every environment (store reads included).</summary>
    public TimeSpan Planning { get; init; }
    public TimeSpan PlanningCpu { get; init; }

    /// <summary>The converged memos being written for the next plan (best effort, never fails): wait for it before the
    /// process exits.</summary>
    public Task MemoWrites { get; init; } = Task.CompletedTask;
}

/// <summary>What would stop an apply from starting, as the state store had it at plan time: the lock held by someone
/// (an expired lock counts as free, as apply takes it over) and the freeze set with `reconciler state freeze`. Apply
/// refuses either unless forced (docs/apply.md).</summary>
public sealed record EnvironmentGate(LockInfo? Lock, FreezeInfo? Freeze)
{
    public static EnvironmentGate Open { get; } = new(null, null);
}

/// <param name="Label">"" for the commit planned, " (base DESCRIPTION)" for the base commit of a preview.</param>
public sealed record RepoLoadReport(string Label, LoadStats Stats, TimeSpan Elapsed, TimeSpan Cpu);

public sealed record ParseCacheWrite(int Entries, TimeSpan Elapsed);

/// <summary>One environment's planning: the store read (null without a store: --live or --base), the desired state,
/// and the planner with the converged memo.</summary>
/// <param name="SettledByMemo">Services the converged memo settled; null when no memo was used (no store yet).</param>
public sealed record EnvironmentPlanReport(
    string Environment,
    StoreReadReport? StoreRead,
    TimeSpan Desired,
    bool WithBase,
    TimeSpan Planner,
    int? SettledByMemo);

/// <param name="MemoEntries">Entries of the converged memo loaded for this environment and store.</param>
public sealed record StoreReadReport(int Services, int MemoEntries, TimeSpan Elapsed);
