using System.Collections.Immutable;
using System.Text.Json;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Schema.Model;
using Reconciler.State;

namespace Reconciler.Execution;

/// <summary>
/// The first journal entry of an apply ("begin"): everything a later run needs to resume or roll back without the
/// original process: the plan, the live state before the apply of the services and toggles it changes, and the typed
/// deploy settings of every changed service before and after (driver, deploy path, restart/stop command, keepReleases).
/// Stored as JSON in the entry's Detail.
/// </summary>
internal sealed record ApplyHeader(Plan Plan, LiveState Before, ImmutableSortedDictionary<string, ServiceDeploys> Deploys)
{
    /// <summary>The header of a new apply of <paramref name="plan"/>. Reads the deploy settings of the services it changes
    /// out of live state here, once; fails (nothing changed yet) when live state names a driver this version does not know.</summary>
    public static ApplyHeader Create(DesiredState desired, Plan plan, LiveState before) =>
        new(plan, Changed(plan, before), DeploysOf(plan, service => before.Services.GetValueOrDefault(service)?.Fields,
            service => desired.Services.TryGetValue(service, out var spec) ? DeploySettings.Of(spec.Deploy) : null));

    /// <summary>Live state before the apply, of only what the plan changes: a rollback, a repair and a resume read the
    /// services and toggles the apply touches and nothing else, and the header of a one-service change in a large
    /// environment no longer repeats the whole environment (every host of every service) in the journal.</summary>
    private static LiveState Changed(Plan plan, LiveState before)
    {
        var services = plan.Services.Where(s => s.Action != ServiceAction.NoOp).Select(s => s.Service).ToHashSet(StringComparer.Ordinal);
        var toggles = plan.Toggles.Where(t => t.Action != ToggleAction.NoOp).Select(t => t.Toggle).ToHashSet(StringComparer.Ordinal);
        return before with
        {
            Services = before.Services.RemoveRange(before.Services.Keys.Where(s => !services.Contains(s))),
            Toggles = before.Toggles.RemoveRange(before.Toggles.Keys.Where(t => !toggles.Contains(t))),
        };
    }

    /// <summary>The deploy settings of a service the plan changes.</summary>
    public ServiceDeploys DeploysOf(string service) =>
        Deploys.TryGetValue(service, out var deploys) ? deploys
        : throw new ReconcilerException(FailureKind.StoreUnavailable,
            $"the journal header of the apply of {Plan.Commit} to {Plan.Environment} records no deploy settings for service '{service}'; " +
            "it cannot be changed or rolled back safely. Inspect the journal with `reconciler state`.");

    public string ToJson() => JsonSerializer.Serialize(this, ReconcilerJson.Compact.InfoFor<ApplyHeader>());

    /// <summary>The header of the open apply in <paramref name="journal"/>, or null when there is none. A header written by
    /// the version before typed deploy settings ("newFields": each new service's field snapshot) is read too, so an apply
    /// interrupted across an upgrade resumes; its settings are read out of the snapshots as a new header's are.</summary>
    public static ApplyHeader? Read(IReadOnlyList<JournalEntry> journal)
    {
        var begin = journal.FirstOrDefault(e => e.Step == ApplyRun.BeginStep);
        if (begin?.Detail is null) return null;
        try
        {
            var stored = JsonSerializer.Deserialize(begin.Detail, ReconcilerJson.Compact.InfoFor<StoredHeader>())
                         ?? throw new JsonException("the header is null");
            if (stored.Deploys is { } deploys) return new ApplyHeader(stored.Plan, stored.Before, deploys);
            if (stored.NewFields is not { } newFields) throw new JsonException("the header has neither 'deploys' nor 'newFields'");
            return new ApplyHeader(stored.Plan, stored.Before, DeploysOf(stored.Plan, service => stored.Before.Services.GetValueOrDefault(service)?.Fields,
                service => newFields.TryGetValue(service, out var fields) ? DeploySettings.FromFields(service, fields) : null));
        }
        catch (JsonException e)
        {
            throw new ReconcilerException(FailureKind.StoreUnavailable, $"the open apply journal of {begin.Environment} (apply {begin.ApplyId}) cannot be read: {e.Message}. " +
                                                                        "Inspect it with `reconciler state`; nothing was changed.");
        }
    }

    private static ImmutableSortedDictionary<string, ServiceDeploys> DeploysOf(Plan plan,
        Func<string, ImmutableSortedDictionary<string, string>?> fieldsBefore, Func<string, DeploySettings?> after) =>
        plan.Services.Where(s => s.Action != ServiceAction.NoOp)
            .ToImmutableSortedDictionary(s => s.Service, s => new ServiceDeploys(
                fieldsBefore(s.Service) is { } fields ? DeploySettings.FromFields(s.Service, fields) : null, after(s.Service)), StringComparer.Ordinal);

    /// <summary>The stored form: this version writes <see cref="Deploys"/>; the one before wrote <see cref="NewFields"/>.</summary>
    internal sealed record StoredHeader(
        Plan Plan,
        LiveState Before,
        ImmutableSortedDictionary<string, ServiceDeploys>? Deploys,
        ImmutableSortedDictionary<string, ImmutableSortedDictionary<string, string>>? NewFields);
}
