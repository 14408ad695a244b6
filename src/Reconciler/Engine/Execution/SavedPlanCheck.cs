using System.Text.Json;
using System.Text.Json.Nodes;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.State;

namespace Reconciler.Execution;

/// <summary>
/// `apply --plan FILE` is tamper-evident: the file only names what to apply. Apply plans again from the file's commit
/// against live state at the file's <c>liveVersion</c> and runs that plan, and only when it is the file's plan, field
/// for field. A store that moved since is stale (exit 5: plan again); a file whose plan differs from what its own
/// commit plans was edited (or written by another reconciler version) and is invalid input (exit 1); the first
/// difference is named either way. So an edited file can never act: not an action changed to `remove`, not a host
/// deleted, not a release id changed. A plan of catalog host groups (<see cref="Plan.Catalog"/>) is also stale when the
/// groups resolve to other hosts now; the message names who joined, left or moved.
/// </summary>
internal static class SavedPlanCheck
{
    /// <summary>The plan to run for <paramref name="saved"/>: <paramref name="fresh"/> (planned now from the same commit),
    /// when live state is still at the file's version and the two plans are identical; throws when they differ. When
    /// live state moved on, the file's plan comes back unchecked and the caller refuses it as stale.</summary>
    public static Plan Verify(Plan saved, Plan fresh, LiveState live)
    {
        if (saved.Environment != fresh.Environment || saved.Commit != fresh.Commit)
            throw new ReconcilerException(FailureKind.InvalidInput,
                $"the saved plan is for {saved.Environment} at {saved.Commit}, not {fresh.Environment} at {fresh.Commit}.");
        // Catalog host groups bind the plan to the hosts they resolved to: other hosts now make it stale, whoever joined or left.
        if (CatalogBindings.Changes(saved.Catalog, fresh.Catalog) is { Count: > 0 } changes)
            throw new ReconcilerException(FailureKind.StaleOrConflict,
                $"the saved plan is stale: the Consul catalog changed since it was computed ({string.Join("; ", changes)}). " +
                "Nothing was changed. Run `reconciler plan` again and review it.");
        // The same hosts: only the index moved (any write anywhere in the catalog moves it), so the file's binding still holds.
        if (saved.Catalog is not null && fresh.Catalog is not null) fresh = fresh with { Catalog = saved.Catalog };
        if (saved.LiveVersion > live.Version)
            throw Edited(saved, $"its liveVersion {saved.LiveVersion} is newer than the store's ({live.Version})");
        if (saved.LiveVersion != live.Version) return saved;   // the caller reports it stale, naming what moved
        return FirstDifference(saved, fresh) is { } difference ? throw Edited(saved, difference) : fresh;
    }

    private static ReconcilerException Edited(Plan saved, string difference) =>
        new(FailureKind.InvalidInput,
            $"the saved plan is not what commit {saved.Commit} plans for {saved.Environment} at live state version {saved.LiveVersion}: " +
            $"{difference}. The file was edited (or written by another version of reconciler); nothing was changed. " +
            "Run `reconciler plan --out FILE` again, review it, and apply that file.");

    /// <summary>Where the two plan documents first differ, as "path: the file has X, the commit plans Y"; null when equal.
    /// Array elements are named by their key (service, host, toggle, field path, wave index) where they have one.</summary>
    public static string? FirstDifference(Plan saved, Plan fresh) =>
        Walk(JsonSerializer.SerializeToNode(saved, ReconcilerJson.Compact.InfoFor<Plan>()), JsonSerializer.SerializeToNode(fresh, ReconcilerJson.Compact.InfoFor<Plan>()), "plan");

    private static string? Walk(JsonNode? file, JsonNode? planned, string path)
    {
        switch (file, planned)
        {
            case (JsonObject a, JsonObject b):
                foreach (var name in b.Select(p => p.Key).Concat(a.Select(p => p.Key)).Distinct(StringComparer.Ordinal))
                    if (Walk(a[name], b[name], path + "." + name) is { } found) return found;
                return null;
            case (JsonArray a, JsonArray b):
                for (var i = 0; i < Math.Max(a.Count, b.Count); i++)
                {
                    var x = i < a.Count ? a[i] : null;
                    var y = i < b.Count ? b[i] : null;
                    if (Label(x) != Label(y))
                        return $"{path}[{i}]: the file has {Describe(x)}, the commit plans {Describe(y)}";
                    if (Walk(x, y, $"{path}[{Label(y) ?? i.ToString(System.Globalization.CultureInfo.InvariantCulture)}]") is { } found) return found;
                }
                return null;
            default:
                return JsonNode.DeepEquals(file, planned) ? null : $"{path}: the file has {Describe(file)}, the commit plans {Describe(planned)}";
        }
    }

    private static readonly string[] Keys = ["service", "host", "toggle", "path", "index"];

    private static string? Label(JsonNode? node) =>
        node is JsonObject o ? Keys.Select(k => o[k]).FirstOrDefault(v => v is not null)?.ToJsonString() is { } key ? key.Trim('"') : null : null;

    private static string Describe(JsonNode? node)
    {
        if (node is null) return "nothing";
        if (Label(node) is { } label) return $"{Keys.First(k => ((JsonObject)node)[k] is not null)} {label}";
        var text = node.ToJsonString(ReconcilerJson.Compact);
        return text.Length > 120 ? text[..117] + "..." : text;
    }
}
