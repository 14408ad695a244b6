using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.IO.Hashing;
using System.Text;
using Reconciler.Schema.Loading;

namespace Reconciler.Git;

/// <summary>
/// The loader's parse cache persisted on disk as one pack file (<c>DIR/parse.pack</c>; default DIR is
/// <c>&lt;infra repo&gt;/.reconciler/cache/parse</c>). One pack beats one file per entry: 15,000 entries load with a
/// single read instead of 15,000 opens (docs/benchmarks/repo.md). New entries go to a small delta pack
/// (<c>parse.delta.pack</c>) until it outgrows an eighth of the main pack, when both are folded into a new main pack.
/// The packs are read once, lazily; <see cref="Flush"/> writes a pack to a temporary file and renames it over the
/// old one, so a concurrent reader sees the old or the new pack, never half of one (two concurrent writers: the last
/// rename wins; the loser's new entries are re-parsed next time). Entries are keyed by content, so any mix of old and
/// new packs is still correct. Each entry carries a checksum; a corrupt or truncated pack, or entry, is a cache miss.
/// </summary>
public sealed class FileParseCache : IParseCache
{
    public const string PackFileName = "parse.pack";
    public const string DeltaFileName = "parse.delta.pack";
    private const long MinDeltaBytes = 1024 * 1024;
    private static ReadOnlySpan<byte> Magic => "RCPC0002"u8;
    private const int ChecksumLength = 8;
    private const int MaxIdLength = 128;
    /// <summary>Above this size, a flush keeps only the entries used by this process (old repos' entries age out).</summary>
    public const long DefaultMaxPackBytes = 256L * 1024 * 1024;

    private readonly string _directory;
    private readonly long _maxPackBytes;
    private Lazy<Dictionary<string, ReadOnlyMemory<byte>>> _onDisk;   // read again after a flush wrote a pack
    private readonly ConcurrentDictionary<string, byte[]> _added = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _used = new(StringComparer.Ordinal);
    private readonly HashSet<string> _inDelta = new(StringComparer.Ordinal);
    private long _basePackBytes;

    public FileParseCache(string directory, long maxPackBytes = DefaultMaxPackBytes)
    {
        _directory = Path.GetFullPath(directory);
        _maxPackBytes = maxPackBytes;
        _onDisk = new Lazy<Dictionary<string, ReadOnlyMemory<byte>>>(ReadPacks, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The default location for an infra repo directory.</summary>
    public static string DefaultDirectory(string infraRepoDirectory) =>
        Path.Combine(Path.GetFullPath(infraRepoDirectory), ".reconciler", "cache", "parse");

    public string PackPath => Path.Combine(_directory, PackFileName);

    /// <summary>Entries added since the main pack was last written (see <see cref="Flush"/>).</summary>
    public string DeltaPath => Path.Combine(_directory, DeltaFileName);

    /// <summary>Entries put since the pack was read: what the next <see cref="Flush"/> writes.</summary>
    public int Added => _added.Count;

    public int Hits => _hits;
    public int Misses => _misses;
    private int _hits, _misses;

    public bool TryGet(string contentId, out ReadOnlyMemory<byte> entry)
    {
        if (_added.TryGetValue(contentId, out var added))
        {
            entry = added;
            Interlocked.Increment(ref _hits);
            return true;
        }
        if (_onDisk.Value.TryGetValue(contentId, out var record))
        {
            _used[contentId] = true;
            entry = record[ChecksumLength..];   // a view into the pack, which stays in memory anyway
            Interlocked.Increment(ref _hits);
            return true;
        }
        Interlocked.Increment(ref _misses);
        entry = default;
        return false;
    }

    public void Put(string contentId, byte[] entry)
    {
        if (contentId.Length is 0 or > MaxIdLength || !Ascii.IsValid(contentId)) return;
        _added[contentId] = entry;
    }

    /// <summary>Writes the pack if anything was added. Best effort: a cache that cannot be written is not an error
    /// (read-only checkouts, full disks); returns false then.</summary>
    public bool Flush()
    {
        if (_added.IsEmpty) return true;
        var old = _onDisk.Value;
        var addedSnapshot = _added.ToArray();   // a Put during the flush must not change the count written
        long added = addedSnapshot.Sum(e => (long)e.Value.Length);
        var keepOld = old.Where(e => !_added.ContainsKey(e.Key)).ToList();
        var total = added + keepOld.Sum(e => (long)e.Value.Length);
        try
        {
            Directory.CreateDirectory(_directory);
            // A few new entries go to the small delta pack: rewriting a 25 MB pack for one changed file cost more than
            // the rest of a warm load. The delta is folded into the main pack once it grows past an eighth of it.
            var deltaOld = keepOld.Where(e => _inDelta.Contains(e.Key)).ToList();
            var deltaSize = added + deltaOld.Sum(e => (long)e.Value.Length);
            if (_basePackBytes > 0 && total <= _maxPackBytes && deltaSize <= Math.Max(MinDeltaBytes, _basePackBytes / 8))
                WritePack(DeltaPath, addedSnapshot, deltaOld);
            else
            {
                if (total > _maxPackBytes) keepOld = keepOld.Where(e => _used.ContainsKey(e.Key)).ToList();
                WritePack(PackPath, addedSnapshot, keepOld);
                File.Delete(DeltaPath);   // everything it held is in the main pack now
            }
            // What was written is on disk now: a process that flushes again (the daemon, once per commit) writes only
            // what it adds later, and decides delta or fold from the packs as they now are.
            foreach (var written in addedSnapshot) _added.TryRemove(written);
            _inDelta.Clear();
            _onDisk = new Lazy<Dictionary<string, ReadOnlyMemory<byte>>>(ReadPacks, LazyThreadSafetyMode.ExecutionAndPublication);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Writes a pack to a temporary file and renames it over <paramref name="path"/>: readers see the old or the new pack.</summary>
    private void WritePack(string path, KeyValuePair<string, byte[]>[] added, List<KeyValuePair<string, ReadOnlyMemory<byte>>> kept)
    {
        string? temp = null;
        try
        {
            temp = Path.Combine(_directory, $"{Path.GetFileName(path)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                stream.Write(Magic);
                Span<byte> number = stackalloc byte[4];
                BinaryPrimitives.WriteInt32LittleEndian(number, added.Length + kept.Count);
                stream.Write(number);
                Span<byte> hash = stackalloc byte[ChecksumLength];
                // Streamed, not assembled in memory: a 5,000-service repo's entries are ~25 MB.
                foreach (var (id, payload) in added)
                {
                    WriteEntryHeader(stream, id, ChecksumLength + payload.Length);
                    XxHash3.Hash(payload, hash);
                    stream.Write(hash);
                    stream.Write(payload);
                }
                foreach (var (id, record) in kept)
                {
                    WriteEntryHeader(stream, id, record.Length);
                    stream.Write(record.Span);
                }
            }
            File.Move(temp, path, overwrite: true);
            temp = null;
        }
        finally
        {
            if (temp is not null) try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>Entry layout: id length (1 byte), id (ASCII), record length (int32 LE), record.</summary>
    private static void WriteEntryHeader(Stream stream, string id, int recordLength)
    {
        Span<byte> header = stackalloc byte[1 + MaxIdLength + 4];
        header[0] = (byte)id.Length;
        var n = Encoding.ASCII.GetBytes(id, header[1..]);
        BinaryPrimitives.WriteInt32LittleEndian(header[(1 + n)..], recordLength);
        stream.Write(header[..(1 + n + 4)]);
    }

    /// <summary>A record is an 8-byte checksum (XxHash3: this guards against torn or damaged files, not against an
    /// attacker, and hashes the ~25 MB of a large repo's pack in a few milliseconds) followed by the payload.</summary>
    private static bool IsIntact(ReadOnlySpan<byte> record)
    {
        if (record.Length < ChecksumLength) return false;
        Span<byte> hash = stackalloc byte[ChecksumLength];
        XxHash3.Hash(record[ChecksumLength..], hash);
        return hash.SequenceEqual(record[..ChecksumLength]);
    }

    /// <summary>The main pack, then the delta pack over it. The index maps ids to verified records (checksum, then payload).</summary>
    private Dictionary<string, ReadOnlyMemory<byte>> ReadPacks()
    {
        var index = new Dictionary<string, ReadOnlyMemory<byte>>(StringComparer.Ordinal);
        _basePackBytes = ReadPack(PackPath, index, delta: false);
        ReadPack(DeltaPath, index, delta: true);
        return index;
    }

    /// <summary>Indexes one pack into <paramref name="index"/> and verifies every entry's checksum (on all cores: a
    /// 5,000-service repo is ~25 MB); stops at the first structural damage and keeps what came before it; drops
    /// entries that fail their checksum. Returns the pack's size (0 when absent or unreadable).</summary>
    private long ReadPack(string path, Dictionary<string, ReadOnlyMemory<byte>> index, bool delta)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0; // absent or unreadable: nothing cached there
        }
        var span = bytes.AsSpan();
        if (span.Length < Magic.Length + 4 || !span[..Magic.Length].SequenceEqual(Magic)) return 0;
        var found = new List<KeyValuePair<string, ReadOnlyMemory<byte>>>();
        var count = BinaryPrimitives.ReadInt32LittleEndian(span[Magic.Length..]);
        var pos = Magic.Length + 4;
        for (var i = 0; i < count; i++)
        {
            if (pos >= span.Length) break;
            int idLength = span[pos++];
            if (idLength == 0 || pos + idLength + 4 > span.Length) break;
            var idSpan = span.Slice(pos, idLength);
            if (!Ascii.IsValid(idSpan)) break;
            var id = Encoding.ASCII.GetString(idSpan);
            pos += idLength;
            var length = BinaryPrimitives.ReadInt32LittleEndian(span[pos..]);
            pos += 4;
            if (length < ChecksumLength || length > span.Length - pos) break;
            found.Add(new(id, new ReadOnlyMemory<byte>(bytes, pos, length)));
            pos += length;
        }
        var valid = new bool[found.Count];
        Parallel.For(0, found.Count, i => valid[i] = IsIntact(found[i].Value.Span));
        for (var i = 0; i < found.Count; i++)
        {
            if (!valid[i]) continue;
            index[found[i].Key] = found[i].Value;
            if (delta) _inDelta.Add(found[i].Key);
        }
        return bytes.Length;
    }
}
