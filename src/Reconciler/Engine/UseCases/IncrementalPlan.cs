using System.Collections.Immutable;
using System.Diagnostics;
using Reconciler.Diff.Live;
using Reconciler.Diff.Planning;
using Reconciler.Git;
using Reconciler.Schema.Loading;
using Reconciler.Schema.Model;
using Reconciler.State;

namespace Reconciler.UseCases;

/// <summary>
/// `plan` at the cost of the change, not of the repo: the last plan of the same request (<see cref="PlanSnapshot"/>)
/// patched with what changed since. The tree ids tell which files changed (Git compares trees, skipping equal subtrees)
/// and the store's version tells whether the live state did; everything else is as the snapshot planned it, so only the
/// services that can plan differently are loaded, read from the store and planned:
/// <list type="bullet">
/// <item>the services whose files changed, and those with work in the snapshot (their waves are planned again);</item>
/// <item>the services toggles require, and what all of these depend on (transitively): the inputs of waves and toggles.</item>
/// </list>
/// The planner plans those against their live entries, and every other service keeps its no-op from the snapshot.
/// Anything else (a changed environment, toggle or reconciler.yaml, a service added or removed, a change to a service's
/// name, dependencies or placement, which other files' checks read, an invalid file, a moved store version, a planning
/// error) declines, and the caller plans in full: the full plan stays the reference, and the differential tests
/// (IncrementalPlanTests) hold the two to the same output. docs/benchmarks.md, "Plan cost follows the change".
/// </summary>
internal static class IncrementalPlan
{
    /// <summary>More services than this to plan again: the full plan is about as cheap.</summary>
    private const int MaxServices = 512;
    private const int MaxRounds = 8;

    /// <param name="Head">The commit planned.</param>
    /// <param name="Base">The base commit of a preview (`--base`); null when planning against the store.</param>
    /// <param name="ReadLive">Store mode: the live state of some services of an environment, with its version.</param>
    /// <param name="Resolve">From the commit's model (its reconciler.yaml names the store): the inputs key the
    /// snapshot must have been made for (<see cref="InputsKey"/>), and in store mode the live state of some services of
    /// an environment, with its version.</param>
    public sealed record Inputs(GitRepoSource Head, GitRepoSource? Base, string BoundRevision, string? BaseCommit,
        Func<RepoModel, (string? Key, Func<string, IReadOnlyCollection<string>, LiveState>? ReadLive)> Resolve, IParseCache Cache);

    /// <summary>Which snapshot file a request uses: one per kind of request (environments, store or preview).</summary>
    public static string Shape(PlanRequest request) =>
        $"rev|env={(request.AllEnvironments ? "*" : request.Environment ?? "")}|{(request.BaseRevision is not null ? "base" : "store")}";

    /// <summary>Everything besides the trees and the store's version that the plans depend on: the build (schemas,
    /// planner, store reader), the request, and the store (a SQLite file replaced by another has another time or
    /// size). <paramref name="externalInputs"/>: inputs from outside the commit and the store (a service catalog,
    /// an observed live state); a plan that uses any must pass their identity here, or not take this path.
    /// Null: this store cannot say that nothing changed (only SQLite can: a write by any hand, through the store or
    /// not, changes the file or its write-ahead log, whose times and sizes are part of the key).</summary>
    public static string? InputsKey(string shape, StoreLocation? store, string externalInputs)
    {
        string? storeKey = store is null ? "" : store.SqliteFile is { } file ? $"sqlite:{file}{Stamp(file)}{Stamp(file + "-wal")}" : null;
        return storeKey is null ? null : $"{PlanSnapshotFile.Build}\n{shape}\n{storeKey}\nexternal:{externalInputs}";
    }

    private static bool UsesCatalog(RepoModel model) =>
        model.Environments.Values.Any(e => e.HostGroups.Values.Any(g => g.Catalog is not null));

    private static string Stamp(string file)
    {
        var info = new FileInfo(file);
        return info.Exists ? $"@{info.LastWriteTimeUtc.Ticks}:{info.Length}" : ":absent";
    }

    /// <param name="ChangedFiles">Infra files changed since the snapshot (both commits of a preview).</param>
    /// <param name="Replanned">Services loaded and planned again (per environment at most this many).</param>
    /// <param name="HeadBlobs">Blob ids of the services loaded from the head tree, for the next snapshot.</param>
    /// <param name="HeadChanges">The service files changed from the snapshot's head tree to this head tree, with their
    /// blob ids in this one: the next preview's base diff when its base is this head (<see cref="ServiceChanges"/>).</param>
    /// <param name="BaseDiffKept">This preview's base diff was the one the snapshot kept (no Git diff of the bases).</param>
    public sealed record Result(ImmutableArray<Plan> Plans, int ChangedFiles, int Replanned, LoadStats Load, TimeSpan Elapsed,
        IReadOnlyDictionary<string, string> HeadBlobs, IReadOnlyDictionary<string, string> BaseBlobs, ServiceChanges HeadChanges, bool BaseDiffKept);

    /// <summary>The plans, or null when this change needs the full plan. The snapshot's plans are needed only to merge:
    /// until then their heads are read on the thread pool while this plans the part.</summary>
    internal static Result? TryPlan(OpenedSnapshot snapshot, Inputs inputs)
    {
        var watch = Stopwatch.StartNew();
        if ((inputs.Base is null) != (snapshot.BaseTree is null)) return null;
        var headBlobs = new Dictionary<string, string>(snapshot.HeadBlobs, StringComparer.Ordinal);
        var baseBlobs = new Dictionary<string, string>(snapshot.BaseBlobs, StringComparer.Ordinal);
        var headChanges = ServiceChanges.Between(inputs.Head, snapshot.HeadTree);
        // A preview of the next commit of a branch has as its base the head of the preview before: the Git diff
        // between the two bases is the one that preview made between its heads, kept in the snapshot. Each diff of a
        // 20,000-service repo reads two 840 KB trees.
        var kept = inputs.Base is not null && snapshot.HeadChanges is { } known && known.From == snapshot.BaseTree && known.To == inputs.Base.TreeId
            ? snapshot.HeadChanges : null;
        var baseChanges = inputs.Base is null ? ServiceChanges.None : kept ?? ServiceChanges.Between(inputs.Base, snapshot.BaseTree!);
        if (headChanges is null || baseChanges is null) return null;
        var headChanged = headChanges.Apply(headBlobs, out var oldHeadBlobs);
        var baseChanged = baseChanges.Apply(baseBlobs, out var oldBaseBlobs);

        // The services whose plan can differ, and what their waves depend on (transitively): checked and planned in full.
        var changed = headChanged.Concat(baseChanged).ToHashSet(StringComparer.Ordinal);
        var core = new SortedSet<string>(changed, StringComparer.Ordinal);
        core.UnionWith(snapshot.WithWork);
        // With them, the services toggles require: only their versions are read (the toggles' checks and gates).
        var names = new SortedSet<string>(core, StringComparer.Ordinal);
        LoadResult? head = null, baseLoad = null;
        for (var round = 0; ; round++)
        {
            if (round == MaxRounds || names.Count > MaxServices) return null;
            head = Load(inputs.Head, inputs.Head.TreeId, names, headBlobs, inputs.Cache);
            baseLoad = inputs.Base is null ? null : Load(inputs.Base, inputs.Base.TreeId, names, baseBlobs, inputs.Cache);
            if (head?.Unchecked is null || (inputs.Base is not null && baseLoad?.Unchecked is null)) return null;
            var grown = false;
            foreach (var model in (RepoModel?[])[head.Unchecked, baseLoad?.Unchecked])
            {
                if (model is null) continue;
                foreach (var dependency in core.Where(model.Services.ContainsKey).SelectMany(n => model.Services[n].Base.DependsOn).ToList())
                    grown |= core.Add(dependency) | names.Add(dependency);
                foreach (var required in model.Toggles.Values.SelectMany(t => t.Requires.Keys))
                    grown |= names.Add(required);
            }
            if (!grown) break;
        }
        // Errors (a broken file, a reference to a service that does not exist) decline: the full load reports them. The
        // one kind of error a part of a valid repo has is an unchanged file's dependency left out of the part.
        if (!OnlyPartErrors(head, changed) || (baseLoad is not null && !OnlyPartErrors(baseLoad, changed))) return null;
        var headModel = head.Unchecked;
        var baseModel = baseLoad?.Unchecked;
        var (key, readLive) = inputs.Resolve(headModel);
        if (key is null || key != snapshot.Inputs) return null;
        if (!FactsUnchanged(inputs.Head, snapshot.HeadTree, headChanged, oldHeadBlobs, headModel, inputs.Cache)) return null;
        if (baseModel is not null && !FactsUnchanged(inputs.Base!, snapshot.BaseTree!, baseChanged, oldBaseBlobs, baseModel, inputs.Cache)) return null;
        // Hosts from the Consul catalog are an input from outside the commit and the store: their membership can change
        // with no change to either, so such a plan is never patched from a snapshot.
        if (UsesCatalog(headModel) || (baseModel is not null && UsesCatalog(baseModel))) return null;

        if (snapshot.Plans.GetAwaiter().GetResult() is not { } read) return null;   // damaged: the full plan
        var plans = ImmutableArray.CreateBuilder<Plan>(read.Plans.Length);
        var replanned = new Replanned(names.ToHashSet(StringComparer.Ordinal));   // asked for every entry of the snapshot: a hash, not a tree
        foreach (var old in read.Plans)
        {
            if (!headModel.Environments.ContainsKey(old.Environment)) return null;
            var desired = DesiredStateBuilder.Build(headModel, old.Environment) with { Revision = inputs.BoundRevision };
            LiveState live;
            if (readLive is not null)
            {
                live = readLive(old.Environment, names);
                if (live.Version != old.LiveVersion) return null;   // the store moved: any service may differ
            }
            else live = baseModel!.Environments.ContainsKey(old.Environment)
                ? LiveProjection.AsApplied(DesiredStateBuilder.Build(baseModel, old.Environment))
                : LiveState.Empty(old.Environment);
            Plan part;
            try
            {
                part = Planner.Plan(desired, live, new PlanOptions(inputs.BaseCommit, null, CoreParallelism.Workers));
            }
            catch (PlanningException)
            {
                return null;   // the full plan words it
            }
            if (Merge(old, part, replanned) is not { } merged) return null;
            plans.Add(merged);
        }
        return new Result(plans.MoveToImmutable(), headChanged.Count + baseChanged.Count, names.Count, head.Stats, watch.Elapsed, headBlobs, baseBlobs,
            headChanges, BaseDiffKept: kept is not null);
    }

    /// <summary>The snapshot's no-ops of services not planned again, and everything the partial plan found, in the
    /// planner's order (wave, then name); waves and toggles are the partial plan's, which saw every service with work.
    /// The no-ops carried over stay runs of the snapshot's records (<see cref="SnapshotEntries"/>): one pass reads each
    /// record's name, action and wave, and places the entries planned again between them, without decoding them. Null
    /// when <paramref name="old"/> is not a snapshot's plan as the planner makes them (a no-op outside wave 0, an entry
    /// with work not planned again, records that do not read): the full plan then.</summary>
    internal static Plan? Merge(Plan old, Plan part, Replanned replanned)
    {
        if (old.Deferred() is not SnapshotEntries carried) return null;
        try
        {
            return MergeRecords(carried, part, replanned);
        }
        catch (Exception e) when (e is FormatException or EndOfStreamException)
        {
            return null;
        }
    }

    private static Plan? MergeRecords(SnapshotEntries carried, Plan part, Replanned replanned)
    {
        var strings = carried.From.Strings;
        var replaced = new Dictionary<string, KeptEntry>(StringComparer.Ordinal);
        var segments = ImmutableArray.CreateBuilder<EntrySegment>();
        var fresh = part.Services;
        var next = 0;
        var nextName = Ascii(fresh, next);
        void AddFresh()
        {
            var s = fresh[next];
            // Planned again to the very no-op the snapshot had: it keeps that record, so the save copies it.
            var same = replaced.TryGetValue(s.Service, out var was) && SameNoOp(carried.Materialise(was), s);
            segments.Add(new EntrySegment(same ? was.Start : 0, same ? was.End : 0, 1, s));
            nextName = Ascii(fresh, ++next);
        }
        var count = 0;
        foreach (var entry in carried.Entries())
        {
            string? name = null;
            if (entry.Listed is { } listed)
            {
                if (replanned.Contains(listed.Service))
                {
                    replaced[listed.Service] = entry;
                    continue;
                }
                if (listed.Action != ServiceAction.NoOp || listed.Wave != 0) return null;
                name = listed.Service;
            }
            else
            {
                var index = entry.Record.Service - 1;
                if (replanned.Contains(strings, index))
                {
                    replaced[strings[index]] = entry;
                    continue;
                }
                if (entry.Record.Action != ServiceAction.NoOp || entry.Record.Wave != 0) return null;   // every service with work in the snapshot is planned again
            }
            // This entry is a no-op in wave 0: what is planned again goes before it when it sorts before it.
            while (next < fresh.Length && (fresh[next].Wave < 0 || fresh[next].Wave == 0
                && (name is not null ? string.CompareOrdinal(fresh[next].Service, name) : CompareOrdinal(fresh[next].Service, nextName, strings.Utf8(entry.Record.Service - 1))) < 0))
                AddFresh();
            if (entry.Listed is not null) segments.Add(new EntrySegment(entry.Start, entry.End, 1, entry.Listed));
            else if (segments.Count > 0 && segments[^1] is { Entry: null } run && run.End == entry.Start)
                segments[^1] = run with { End = entry.End, Count = run.Count + 1 };
            else segments.Add(new EntrySegment(entry.Start, entry.End, 1, null));
            count++;
        }
        while (next < fresh.Length) AddFresh();
        return part.WithDeferred(new SnapshotEntries(carried.From, segments.DrainToImmutable(), count + fresh.Length, carriedAreNoOps: true));
    }

    /// <summary>The UTF-8 of entry <paramref name="index"/>'s name when it is ASCII (then its bytes sort as its UTF-16
    /// does against any UTF-8), else null.</summary>
    private static byte[]? Ascii(ImmutableArray<ServiceChange> entries, int index) =>
        index < entries.Length && System.Text.Ascii.IsValid(entries[index].Service) ? System.Text.Encoding.ASCII.GetBytes(entries[index].Service) : null;

    /// <summary>string.CompareOrdinal of <paramref name="name"/> and the string <paramref name="utf8"/> encodes: on the
    /// bytes when <paramref name="ascii"/> (the name's) is given, else on the decoded text.</summary>
    private static int CompareOrdinal(string name, byte[]? ascii, ReadOnlySpan<byte> utf8)
    {
        if (ascii is not null) return ascii.AsSpan().SequenceCompareTo(utf8);
        Span<char> buffer = utf8.Length <= 256 ? stackalloc char[256] : new char[utf8.Length];
        return name.AsSpan().SequenceCompareTo(buffer[..System.Text.Encoding.UTF8.GetChars(utf8, buffer)]);
    }

    /// <summary>The services planned again, asked for by name as a record has it or as a snapshot's table holds it
    /// (UTF-8): each name of the table is looked up once for all the plans merged from it.</summary>
    internal sealed class Replanned(HashSet<string> names)
    {
        private SnapshotStrings? _table;
        private sbyte[] _byIndex = [];   // 0: not yet asked, 1: planned again, -1: not

        public bool Contains(string name) => names.Contains(name);

        public bool Contains(SnapshotStrings table, int index)
        {
            if (table != _table) (_table, _byIndex) = (table, new sbyte[table.Count]);
            ref var known = ref _byIndex[index];
            if (known == 0) known = Lookup(table.Utf8(index)) ? (sbyte)1 : (sbyte)-1;
            return known > 0;
        }

        private bool Lookup(ReadOnlySpan<byte> utf8)
        {
            Span<char> buffer = utf8.Length <= 256 ? stackalloc char[256] : new char[utf8.Length];
            return names.GetAlternateLookup<ReadOnlySpan<char>>().Contains(buffer[..System.Text.Encoding.UTF8.GetChars(utf8, buffer)]);
        }
    }

    /// <summary>Two no-ops that say the same: planned again, a service with nothing to do is what the snapshot had.
    /// Only then can an entry planned again share the snapshot's record; anything with work is written anew.</summary>
    private static bool SameNoOp(ServiceChange was, ServiceChange @is) =>
        was.Action == ServiceAction.NoOp && @is.Action == ServiceAction.NoOp
        && was.Fields.IsEmpty && @is.Fields.IsEmpty && was.Hosts.IsEmpty && @is.Hosts.IsEmpty && was.Rollout is null && @is.Rollout is null
        && was.Wave == @is.Wave && was.Service == @is.Service && was.Reason == @is.Reason && was.HostGroup == @is.HostGroup
        && was.FromVersion == @is.FromVersion && was.ToVersion == @is.ToVersion && was.FromRelease == @is.FromRelease && was.ToRelease == @is.ToRelease;

    private static LoadResult? Load(GitRepoSource source, string tree, IReadOnlyCollection<string> services, IDictionary<string, string> blobs, IParseCache cache) =>
        source.Subset(tree, services, blobs) is { } subset ? RepoLoader.Load(subset, cache, CoreParallelism.Load) : null;

    /// <summary>True when every error of a part of the repo is a dependency of an unchanged service file that the part
    /// leaves out: that file was valid in the snapshot's commit, and no service was removed since.</summary>
    private static bool OnlyPartErrors(LoadResult part, IReadOnlySet<string> changed) =>
        part.Diagnostics.All(d => d.Severity != Severity.Error
            || (d.RuleId == "ref.depends-on" && d.Location?.File is { } file && file.StartsWith("services/", StringComparison.Ordinal)
                && !changed.Contains(file["services/".Length..^".yaml".Length])));

    /// <summary>True when each changed service file still says what the checks of other files read from it: its name,
    /// what it depends on, and where it runs in each environment (enabled, host group, deploy path and driver). Then
    /// the checks across files come out as they did for the snapshot's valid commit.</summary>
    private static bool FactsUnchanged(GitRepoSource source, string oldTree, List<string> changed, Dictionary<string, string> oldBlobs,
        RepoModel now, IParseCache cache)
    {
        if (changed.Count == 0) return true;
        var before = Load(source, oldTree, changed, oldBlobs, cache)?.Unchecked;
        if (before is null) return false;
        foreach (var name in changed)
        {
            if (!before.Services.TryGetValue(name, out var was) || !now.Services.TryGetValue(name, out var @is)) return false;
            if (!was.Base.DependsOn.SequenceEqual(@is.Base.DependsOn, StringComparer.Ordinal)) return false;
            foreach (var environment in now.Environments.Keys)
            {
                var (e1, g1, d1) = DesiredStateBuilder.Placement(was, environment);
                var (e2, g2, d2) = DesiredStateBuilder.Placement(@is, environment);
                if (e1 != e2 || g1 != g2 || d1.Path.TrimEnd('/') != d2.Path.TrimEnd('/') || (d1.Driver == DriverKind.ConsulKv) != (d2.Driver == DriverKind.ConsulKv))
                    return false;
            }
        }
        return true;
    }
}
