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
    /// <summary>Where the plans of a snapshot read from a file are in its bytes (null for one made in this process).</summary>
    internal EncodedPlans? Encoded { get; init; }

    /// <summary>For plans made from another snapshot's: which of their entries it had as they are, so that saving this
    /// one copies those records instead of encoding them again (null: every entry is encoded).</summary>
    internal CarriedEntries? Carried { get; init; }

    public PlanSnapshot(string inputs, string headTree, string? baseTree, ImmutableArray<Plan> plans)
        : this(inputs, headTree, baseTree, plans, ImmutableDictionary<string, string>.Empty, ImmutableDictionary<string, string>.Empty)
    {
    }
}

/// <summary>
/// Keeps a <see cref="PlanSnapshot"/> between `plan` runs (.reconciler/cache/plans/KEY.snapshot, one file per request
/// shape). Only a shortcut: anything unreadable (absent, damaged, another build's, another request's) is no snapshot,
/// and the plan is made in full. Layout: magic, checksum (XxHash3 of the rest), inputs, tree ids, plans. Written to a
/// temporary file, then renamed; best effort. The magic names the layout (0003: plans with a string table, which a snapshot made from another can carry over).
/// </summary>
public static class PlanSnapshotFile
{
    private static ReadOnlySpan<byte> Magic => "RCPS0003"u8;

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
    public static PlanSnapshot? Load(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        if (ChecksummedFile.Body(bytes, Magic) is not { } body) return null;
        try
        {
            using var r = new BinaryReader(body, Encoding.UTF8);
            var inputs = r.ReadString();
            var head = r.ReadString();
            var baseTree = Optional(r);
            var (headBlobs, baseBlobs) = (Blobs(r), Blobs(r));
            var plans = PlanCodec.Read(r, out var encoded);
            if (r.BaseStream.Position != r.BaseStream.Length) return null;
            return new PlanSnapshot(inputs, head, baseTree, plans, headBlobs, baseBlobs) { Encoded = encoded };
        }
        catch (Exception e) when (e is EndOfStreamException or FormatException or ArgumentException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>False when it could not be written (a read-only checkout): the next plan is then made in full.</summary>
    public static bool Save(string path, PlanSnapshot snapshot)
    {
        var body = new MemoryStream();
        using (var w = new BinaryWriter(body, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(snapshot.Inputs);
            w.Write(snapshot.HeadTree);
            Optional(w, snapshot.BaseTree);
            Blobs(w, snapshot.HeadBlobs);
            Blobs(w, snapshot.BaseBlobs);
            if (snapshot.Carried is { } carried) PlanCodec.Write(w, snapshot.Plans, carried);
            else PlanCodec.Write(w, snapshot.Plans);
        }
        return ChecksummedFile.TryWrite(path, Magic, body);
    }

    private static void Blobs(BinaryWriter w, IReadOnlyDictionary<string, string> blobs)
    {
        w.Write(blobs.Count);
        foreach (var (name, id) in blobs.OrderBy(b => b.Key, StringComparer.Ordinal)) { w.Write(name); w.Write(id); }
    }

    private static Dictionary<string, string> Blobs(BinaryReader r)
    {
        var count = r.ReadInt32();
        if (count is < 0 or > 1_000_000) throw new FormatException($"bad count {count}");
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
