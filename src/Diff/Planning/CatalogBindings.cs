using System.Collections.Immutable;
using Reconciler.Schema.Model;

namespace Reconciler.Diff.Planning;

/// <summary>What a plan records about its catalog host groups (<see cref="Plan.Catalog"/>), and how two such records
/// differ in words: the hosts that joined, left or moved.</summary>
public static class CatalogBindings
{
    /// <summary>The environment's resolved catalog groups, by name; null when it has none.</summary>
    public static ImmutableArray<CatalogBinding>? Of(EnvironmentSpec environment)
    {
        ImmutableArray<CatalogBinding>.Builder? bindings = null;
        foreach (var (name, group) in environment.HostGroups)
        {
            if (group.Catalog is null) continue;
            var members = group.Hosts.Select(h => new CatalogMember(h.Name, h.Address, h.Port))
                .OrderBy(m => m.Host, StringComparer.Ordinal).ToImmutableArray();
            (bindings ??= ImmutableArray.CreateBuilder<CatalogBinding>()).Add(new CatalogBinding(name, group.Catalog.Service, group.CatalogIndex ?? 0, members));
        }
        return bindings?.ToImmutable();
    }

    /// <summary>"host group 'app' (consul service api): joined app-3; left app-1" for every group whose hosts differ
    /// between <paramref name="before"/> and <paramref name="now"/>; empty when none does (the index alone may move:
    /// any health or registration change anywhere in the catalog moves it).</summary>
    public static IReadOnlyList<string> Changes(ImmutableArray<CatalogBinding>? before, ImmutableArray<CatalogBinding>? now)
    {
        var was = (before ?? []).ToDictionary(b => b.HostGroup, StringComparer.Ordinal);
        var @is = (now ?? []).ToDictionary(b => b.HostGroup, StringComparer.Ordinal);
        var changes = new List<string>();
        foreach (var group in was.Keys.Union(@is.Keys, StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            var old = was.GetValueOrDefault(group)?.Hosts.ToDictionary(m => m.Host, StringComparer.Ordinal) ?? [];
            var @new = @is.GetValueOrDefault(group)?.Hosts.ToDictionary(m => m.Host, StringComparer.Ordinal) ?? [];
            var joined = @new.Keys.Where(h => !old.ContainsKey(h)).Order(StringComparer.Ordinal).ToList();
            var left = old.Keys.Where(h => !@new.ContainsKey(h)).Order(StringComparer.Ordinal).ToList();
            var moved = @new.Values.Where(m => old.TryGetValue(m.Host, out var o) && o != m)
                .Select(m => $"{m.Host} ({old[m.Host].Address}:{old[m.Host].Port} -> {m.Address}:{m.Port})").ToList();
            if (joined.Count + left.Count + moved.Count == 0) continue;
            var service = (@is.GetValueOrDefault(group) ?? was[group]).Service;
            var parts = new List<string>();
            if (joined.Count > 0) parts.Add("joined " + string.Join(", ", joined));
            if (left.Count > 0) parts.Add("left " + string.Join(", ", left));
            if (moved.Count > 0) parts.Add("moved " + string.Join(", ", moved));
            changes.Add($"host group '{group}' (consul service {service}): {string.Join("; ", parts)}");
        }
        return changes;
    }
}
