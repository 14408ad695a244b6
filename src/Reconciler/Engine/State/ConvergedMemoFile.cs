using System.Buffers.Binary;
using System.Text;
using Reconciler.Diff.Planning;

namespace Reconciler.State;

/// <summary>
/// Keeps one environment's <see cref="ConvergedMemo"/> between `plan` runs, beside the parse cache
/// (.reconciler/cache/converged/ENV.memo). Like the parse cache it is only a shortcut: an entry matches only when the
/// stored service, the desired spec and the host group all have the digests it holds, so a memo from another store,
/// commit or machine cannot change a plan. It is still bound to the state store it was made against and to the
/// planner's build, so that it does not grow stale entries forever. Anything unreadable (absent, damaged, of another
/// build) is an empty memo; writing is best effort. Layout: magic, checksum (XxHash3 of the rest), build, store, seed,
/// count, then per entry the service name, the three 128-bit digests and the release.
/// </summary>
public static class ConvergedMemoFile
{
    private static ReadOnlySpan<byte> Magic => "RCCM"u8;

    // The builds of the planner (its convergence keys) and of the engine (digests, store reader): a new one (new digest
    // rules, a stricter reader) starts from an empty memo, so that bytes are deferred only when this very build decoded them before.
    private static readonly string PlannerBuild = typeof(ConvergenceKeys).Assembly.ManifestModule.ModuleVersionId.ToString("N")
                                                  + typeof(ConvergedMemoFile).Assembly.ManifestModule.ModuleVersionId.ToString("N");

    public static string PathFor(string infraRepoDirectory, string environment) =>
        Path.Combine(Path.GetFullPath(infraRepoDirectory), ".reconciler", "cache", "converged", $"{environment}.memo");

    /// <summary>The memo kept for this environment and store, or an empty one with a new seed.</summary>
    public static ConvergedMemo Load(string path, string store)
    {
        try
        {
            var bytes = File.ReadAllBytes(path);
            return TryParse(bytes, store, out var memo) ? memo : ConvergedMemo.Create();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return ConvergedMemo.Create();
        }
    }

    /// <summary>Writes the memo (what a plan found converged: <see cref="ConvergedMemoMatch.Record"/>; temporary file, then
    /// rename). False when the file could not be written (a read-only checkout): the next plan simply has no memo.</summary>
    public static bool Save(string path, string store, ConvergedMemo memo)
    {
        var body = new MemoryStream();
        using (var w = new BinaryWriter(body, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(PlannerBuild);
            w.Write(store);
            w.Write(memo.Seed);
            var entries = memo.Entries;
            w.Write(entries.Count);
            Span<byte> digest = stackalloc byte[16];
            foreach (var e in entries)
            {
                w.Write(e.Service);
                foreach (var d in (ReadOnlySpan<UInt128>)[e.Live, e.Spec, e.Group])
                {
                    BinaryPrimitives.WriteUInt128LittleEndian(digest, d);
                    w.Write(digest);
                }
                w.Write(e.Release);
            }
        }
        return ChecksummedFile.TryWrite(path, Magic, body);
    }

    private static bool TryParse(byte[] bytes, string store, out ConvergedMemo memo)
    {
        memo = null!;
        if (ChecksummedFile.Body(bytes, Magic) is not { } body) return false;
        try
        {
            using var r = new BinaryReader(body, Encoding.UTF8);
            if (r.ReadString() != PlannerBuild || r.ReadString() != store) return false;
            var seed = r.ReadUInt64();
            var count = r.ReadInt32();
            if (count < 0 || count > bytes.Length) return false;
            var entries = new List<ConvergedMemo.Entry>(count);
            for (var i = 0; i < count; i++)
            {
                var service = r.ReadString();
                entries.Add(new ConvergedMemo.Entry(service, Digest(r), Digest(r), Digest(r), r.ReadString()));
            }
            if (r.BaseStream.Position != r.BaseStream.Length) return false;
            memo = new ConvergedMemo(seed, entries);
            return true;
        }
        catch (Exception e) when (e is EndOfStreamException or FormatException or ArgumentOutOfRangeException)
        {
            return false;
        }
    }

    private static UInt128 Digest(BinaryReader r) => BinaryPrimitives.ReadUInt128LittleEndian(r.ReadBytes(16));
}
