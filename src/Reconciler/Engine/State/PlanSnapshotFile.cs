using System.Collections.Immutable;
using System.IO.Hashing;
using System.Text;
using Reconciler.Diff.Planning;

namespace Reconciler.State;

/// <summary>
/// The last plan of one kind of request, with what it was made from: the inputs key (<see cref="Inputs"/>: the build,
/// the request's shape, the store, external inputs) and the infra tree ids of the commit planned and of the base commit.
/// With the live version each plan records, these say exactly what the plans depend on, so the next plan can re-plan
/// only what changed since (<see cref="UseCases.IncrementalPlan"/>).
/// </summary>
/// <param name="HeadBlobs">Blob ids of services/NAME.yaml in the head tree that an incremental plan looked up, by NAME
/// (kept so that the next one need not look them up again).</param>
/// <param name="BaseBlobs">The same for the base tree.</param>
public sealed record PlanSnapshot(string Inputs, string HeadTree, string? BaseTree, ImmutableArray<Plan> Plans,
    IReadOnlyDictionary<string, string> HeadBlobs, IReadOnlyDictionary<string, string> BaseBlobs)
{
    /// <summary>The bytes the plans of a snapshot read from a file are in (null for one made in this process).</summary>
    internal EncodedPlans? Encoded { get; init; }

    /// <summary>The service files changed from the snapshot before to this one's head tree (an incremental plan's; null
    /// after a full plan): the next preview's base diff when its base is this head.</summary>
    internal UseCases.ServiceChanges? HeadChanges { get; init; }

    public PlanSnapshot(string inputs, string headTree, string? baseTree, ImmutableArray<Plan> plans)
        : this(inputs, headTree, baseTree, plans, ImmutableDictionary<string, string>.Empty, ImmutableDictionary<string, string>.Empty)
    {
    }
}

/// <summary>
/// Keeps a <see cref="PlanSnapshot"/> between `plan` runs (.reconciler/cache/plans/KEY.snapshot, one file per request
/// shape). Only a shortcut: anything unreadable (absent, damaged, another build's, another request's) is no snapshot,
/// and the plan is made in full. Layout: magic, checksum (XxHash3 of the rest), inputs, tree ids, blob ids, the head's
/// changed service files (tree id from, names and blob ids), the names of the services with work in any plan, plans
/// (<see cref="PlanCodec"/>). Written to a temporary file, then renamed; best effort. The magic names the layout
/// (0006: the head's changed service files ahead of the services with work, which are ahead of the plans, whose
/// strings are in a table that a snapshot made from another carries over, and the plans' heads ahead of their
/// records, so that the records are read only when an entry is asked for).
/// </summary>
public static class PlanSnapshotFile
{
    private static ReadOnlySpan<byte> Magic => "RCPS0006"u8;

    /// <summary>The builds of the loader, the planner and the engine: a new build (a changed schema, new planning rules,
    /// another store reader) never reuses a snapshot made by another.</summary>
    public static readonly string Build = string.Concat(
        new[] { typeof(Schema.Model.RepoModel), typeof(Plan), typeof(PlanSnapshotFile) }.Select(t => t.Assembly.ManifestModule.ModuleVersionId.ToString("N")));

    public static string PathFor(string infraRepoDirectory, string inputs)
    {
        var name = Convert.ToHexStringLower(XxHash64.Hash(Encoding.UTF8.GetBytes(inputs)));
        return Path.Combine(Path.GetFullPath(infraRepoDirectory), ".reconciler", "cache", "plans", name + ".snapshot");
    }

    /// <summary>The snapshot at <paramref name="path"/> when it is intact (its <see cref="PlanSnapshot.Inputs"/> are the caller's to compare).</summary>
    public static PlanSnapshot? Load(string path) => Open(path)?.Complete();

    /// <summary>The snapshot at <paramref name="path"/>, its header read and its plans being read on the thread pool
    /// (<see cref="OpenedSnapshot"/>), or null when the file is absent or damaged.</summary>
    internal static OpenedSnapshot? Open(string path)
    {
        ArraySegment<byte> bytes;
        try
        {
            bytes = HugePageFile.ReadAll(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        if (ChecksummedFile.Body(bytes, Magic) is not { } body) return null;
        try
        {
            var r = new BinaryReader(body, Encoding.UTF8);
            var inputs = r.ReadString();
            var head = r.ReadString();
            var baseTree = Optional(r);
            var (headBlobs, baseBlobs) = (Blobs(r), Blobs(r));
            var headChanges = Optional(r) is { } from ? new UseCases.ServiceChanges(from, head, Blobs(r).ToImmutableSortedDictionary(StringComparer.Ordinal)) : null;
            var withWork = new string[Count(r)];
            for (var i = 0; i < withWork.Length; i++) withWork[i] = r.ReadString();
            var plans = Task.Run(() => DecodePlans(r));
            return new OpenedSnapshot(inputs, head, baseTree, headBlobs, baseBlobs, withWork, plans) { HeadChanges = headChanges };
        }
        catch (Exception e) when (e is EndOfStreamException or FormatException or ArgumentException or InvalidOperationException)
        {
            return null;
        }
    }

    private static (ImmutableArray<Plan> Plans, EncodedPlans Encoded)? DecodePlans(BinaryReader r)
    {
        try
        {
            using (r)
            {
                var plans = PlanCodec.Read(r, out var encoded);
                return r.BaseStream.Position == r.BaseStream.Length ? (plans, encoded) : null;
            }
        }
        catch (Exception e) when (e is EndOfStreamException or FormatException or ArgumentException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>False when it could not be written (a read-only checkout): the next plan is then made in full.</summary>
    public static bool Save(string path, PlanSnapshot snapshot)
    {
        // The header and the counts (and a full write's table); the rest follows as it is (PlanCodec.Write).
        var body = new MemoryStream(64 << 10);
        ReadOnlyMemory<byte>[] rest;
        using (var w = new BinaryWriter(body, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(snapshot.Inputs);
            w.Write(snapshot.HeadTree);
            Optional(w, snapshot.BaseTree);
            Blobs(w, snapshot.HeadBlobs);
            Blobs(w, snapshot.BaseBlobs);
            // Only a diff that ends at this head can be the next base diff.
            var headChanges = snapshot.HeadChanges is { } changes && changes.To == snapshot.HeadTree ? changes : null;
            Optional(w, headChanges?.From);
            if (headChanges is not null) Blobs(w, headChanges.Blobs);
            var withWork = snapshot.Plans.SelectMany(p => p.ServicesWithWork()).Select(c => c.Service).Distinct().Order(StringComparer.Ordinal).ToList();
            w.Write(withWork.Count);
            foreach (var name in withWork) w.Write(name);
            // Plans merged from a snapshot read from a file (an incremental plan's) copy its records.
            rest = PlanCodec.WriteCarryingOver(w, snapshot.Plans);
        }
        return ChecksummedFile.TryWrite(path, Magic, [body.GetBuffer().AsMemory(0, (int)body.Length), .. rest]);
    }

    private static void Blobs(BinaryWriter w, IReadOnlyDictionary<string, string> blobs)
    {
        w.Write(blobs.Count);
        foreach (var (name, id) in blobs.OrderBy(b => b.Key, StringComparer.Ordinal)) { w.Write(name); w.Write(id); }
    }

    private static int Count(BinaryReader r)
    {
        var count = r.ReadInt32();
        return count is >= 0 and <= 1_000_000 ? count : throw new FormatException($"bad count {count}");
    }

    private static Dictionary<string, string> Blobs(BinaryReader r)
    {
        var count = Count(r);
        var blobs = new Dictionary<string, string>(count, StringComparer.Ordinal);
        for (var i = 0; i < count; i++) blobs[r.ReadString()] = r.ReadString();
        return blobs;
    }

    internal static void Optional(BinaryWriter w, string? value)
    {
        w.Write(value is not null);
        if (value is not null) w.Write(value);
    }

    internal static string? Optional(BinaryReader r) => r.ReadBoolean() ? r.ReadString() : null;
}

/// <summary>A snapshot whose header is read and whose plans are still being read: the incremental plan needs only the
/// header and the services with work until it merges, and reading the plans' heads and noting the table's strings
/// overlaps Git's tree comparison, the part's load and its planning on the other core. The records stay as they are
/// (<see cref="SnapshotEntries"/>); the merge reads each one, and declines to the full plan on one that does not read.</summary>
/// <param name="WithWork">The services with work in any of the plans, by name.</param>
internal sealed record OpenedSnapshot(string Inputs, string HeadTree, string? BaseTree, IReadOnlyDictionary<string, string> HeadBlobs,
    IReadOnlyDictionary<string, string> BaseBlobs, IReadOnlyList<string> WithWork, Task<(ImmutableArray<Plan> Plans, EncodedPlans Encoded)?> Plans)
{
    /// <summary>As <see cref="PlanSnapshot.HeadChanges"/>.</summary>
    public UseCases.ServiceChanges? HeadChanges { get; init; }

    /// <summary>The whole snapshot, once its plans are read; null when they turn out damaged.</summary>
    public PlanSnapshot? Complete() => Plans.GetAwaiter().GetResult() is { } decoded
        ? new PlanSnapshot(Inputs, HeadTree, BaseTree, decoded.Plans, HeadBlobs, BaseBlobs) { Encoded = decoded.Encoded, HeadChanges = HeadChanges }
        : null;
}
