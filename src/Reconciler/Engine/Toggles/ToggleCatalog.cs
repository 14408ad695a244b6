using System.Collections.Immutable;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Schema.Model;
using Reconciler.Daemon;
using Reconciler.State;

namespace Reconciler.Toggles;

// `reconciler toggles`: the feature toggle manager of the talks. Per toggle and environment: the value the repo wants
// and the value live state records, its requirements next to the versions running now, when it was last switched
// and by which commit; and whether it can be removed from the code (docs/cli/toggles.md).

public sealed record ToggleCatalogReport(string Revision, DateTimeOffset At, TimeSpan RemovableAfter, ImmutableArray<ToggleReport> Toggles);

/// <param name="Defined">false: the toggle is gone from the repo but live state still has it (the next apply removes it).</param>
/// <param name="ReadyToRemove">On in every environment of the repo for at least <see cref="ToggleCatalogReport.RemovableAfter"/>,
/// with every requirement met everywhere: the code can drop the toggle, then its file.</param>
/// <param name="NotReadyBecause">Every reason it is not ready (empty when it is).</param>
public sealed record ToggleReport(
    string Toggle,
    string? Description,
    bool Defined,
    ImmutableArray<ToggleInEnvironment> Environments,
    bool ReadyToRemove,
    ImmutableArray<string> NotReadyBecause);

/// <param name="Desired">The value at the repo's HEAD (absent = off).</param>
/// <param name="Live">The value live state records; null when no apply has written it in this environment.</param>
/// <param name="ChangedBy">The commit whose apply last wrote it (switched it, or created it).</param>
/// <param name="ChangedAt">When; from live state, or for records older than that field from the history of <see cref="ChangedBy"/>.</param>
public sealed record ToggleInEnvironment(
    string Environment,
    bool Desired,
    bool? Live,
    string? ChangedBy,
    DateTimeOffset? ChangedAt,
    ImmutableArray<RequirementStatus> Requirements);

/// <param name="Running">The version live state records for the service in this environment; null: not deployed.</param>
/// <param name="Met">The running version satisfies the range on every host (a host whose release is unknown does not count as meeting it).</param>
public sealed record RequirementStatus(string Service, string Range, string? Running, bool Met, string? Note);

/// <summary>What one environment's store holds that the catalog reads.</summary>
public sealed record EnvironmentRecords(LiveState Live, IReadOnlyList<HistoryEntry> History);

public static class ToggleCatalog
{
    /// <param name="records">Every environment of the repo (readiness looks at all of them).</param>
    /// <param name="showEnvironment">Only this environment's rows are listed (null: all).</param>
    public static ToggleCatalogReport Build(RepoModel model, IReadOnlyDictionary<string, EnvironmentRecords> records,
        DateTimeOffset now, string? showEnvironment = null)
    {
        var removableAfter = model.Repository.ToggleRemovalAge;
        var environments = model.Environments.Keys.ToList();
        var names = new SortedSet<string>(model.Toggles.Keys, StringComparer.Ordinal);
        foreach (var r in records.Values) names.UnionWith(r.Live.Toggles.Keys);

        var toggles = names.Select(name =>
        {
            model.Toggles.TryGetValue(name, out var definition);
            var rows = environments.Select(env => Row(name, definition, env, records.GetValueOrDefault(env))).ToList();
            var blockers = Blockers(definition, rows, removableAfter, now);
            return new ToggleReport(name, definition?.Description, definition is not null,
                [.. rows.Where(r => showEnvironment is null || r.Environment == showEnvironment)],
                blockers.Count == 0, [.. blockers]);
        });
        return new ToggleCatalogReport(model.Revision, now, removableAfter, [.. toggles]);
    }

    private static ToggleInEnvironment Row(string name, ToggleDefinition? definition, string environment, EnvironmentRecords? records)
    {
        var desired = definition?.Environments.GetValueOrDefault(environment) ?? false;
        LiveToggle? live = null;
        records?.Live.Toggles.TryGetValue(name, out live);
        var changedAt = live?.ChangedAt ?? (live is null ? null : AppliedAt(live.Commit, records!.History));
        var requirements = (definition?.Requires ?? ImmutableSortedDictionary<string, string>.Empty)
            .Select(r => Requirement(r.Key, r.Value, records?.Live))
            .ToImmutableArray();
        return new ToggleInEnvironment(environment, desired, live?.Enabled, live?.Commit, changedAt, requirements);
    }

    /// <summary>The first successful apply of the commit (history is newest first): the one that wrote the toggle.</summary>
    private static DateTimeOffset? AppliedAt(string commit, IReadOnlyList<HistoryEntry> history) =>
        history.LastOrDefault(h => h.Commit == commit && h.Result == ApplyResult.Succeeded) is { } h ? h.Finished ?? h.Started : null;

    private static RequirementStatus Requirement(string service, string range, LiveState? live)
    {
        if (live is null || !live.Services.TryGetValue(service, out var running))
            return new RequirementStatus(service, range, null, false, "not deployed");
        var unknown = running.Hosts.Values.Where(h => h.UnknownBecause is not null).Select(h => h.Host).ToList();
        var satisfies = VersionRanges.Satisfies(running.Version, range);
        var note = satisfies is null ? $"cannot compare '{running.Version}' with '{range}'"
            : unknown.Count > 0 ? $"release unknown on {string.Join(", ", unknown)}"
            : null;
        return new RequirementStatus(service, range, running.Version, satisfies == true && unknown.Count == 0, note);
    }

    private static List<string> Blockers(ToggleDefinition? definition, List<ToggleInEnvironment> rows, TimeSpan removableAfter, DateTimeOffset now)
    {
        if (definition is null) return ["removed from the repo; the next apply of each environment drops it from live state"];
        var blockers = new List<string>();
        if (rows.Count == 0) blockers.Add("the repo has no environments");
        foreach (var row in rows)
        {
            var env = row.Environment;
            if (!row.Desired) blockers.Add($"off in {env}");
            else if (row.Live != true) blockers.Add($"on in the repo but not yet applied in {env}");
            else if (row.ChangedAt is not { } since) blockers.Add($"on in {env}, but when it was switched on is not recorded");
            else if (now - since < removableAfter)
                blockers.Add($"on in {env} for {Durations.Age(now - since)} of the {Durations.Age(removableAfter)} required");
            foreach (var r in row.Requirements.Where(r => !r.Met))
                blockers.Add(r.Running is null ? $"{r.Service} is not deployed in {env} ({r.Range} required)"
                    : $"{r.Service} {r.Running} in {env} does not meet {r.Range}{(r.Note is null ? "" : $" ({r.Note})")}");
        }
        return blockers;
    }
}
