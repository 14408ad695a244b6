using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Reconciler.Schema.Loading;

namespace Reconciler.Git;

/// <summary>
/// The loader's parse cache persisted on disk as one pack file (<c>DIR/parse.pack</c>; default DIR is
/// <c>&lt;infra repo&gt;/.reconciler/cache/parse</c>). One pack beats one file per entry: 15,000 entries load with a
/// single read instead of 15,000 opens (docs/benchmarks/repo.md). The pack is read once, lazily; <see cref="Flush"/>
/// writes a new pack to a temporary file and renames it over the old one, so a concurrent reader sees the old or the
/// new pack, never half of one (two concurrent writers: the last rename wins; the loser's new entries are re-parsed
/// next time). Each entry carries a checksum; a corrupt or truncated pack, or entry, is ignored (a cache miss).
/// </summary>
public sealed class FileParseCache : IParseCache
{
    public const string PackFileName = "parse.pack";
    private static ReadOnlySpan<byte> Magic => "RCPC0001"u8;
    private const int ChecksumLength = 8;
    private const int MaxIdLength = 128;
    /// <summary>Above this size, a flush keeps only the entries used by this process (old repos' entries age out).</summary>
    public const long DefaultMaxPackBytes = 256L * 1024 * 1024;

    private readonly string _directory;
    private readonly long _maxPackBytes;
    private readonly Lazy<Dictionary<string, ReadOnlyMemory<byte>>> _onDisk;
    private readonly ConcurrentDictionary<string, byte[]> _added = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _used = new(StringComparer.Ordinal);

    public FileParseCache(string directory, long maxPackBytes = DefaultMaxPackBytes)
    {
        _directory = Path.GetFullPath(directory);
        _maxPackBytes = maxPackBytes;
        _onDisk = new Lazy<Dictionary<string, ReadOnlyMemory<byte>>>(ReadPack, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The default location for an infra repo directory.</summary>
    public static string DefaultDirectory(string infraRepoDirectory) =>
        Path.Combine(Path.GetFullPath(infraRepoDirectory), ".reconciler", "cache", "parse");

    public string PackPath => Path.Combine(_directory, PackFileName);

    /// <summary>Entries put since the pack was read: what the next <see cref="Flush"/> writes.</summary>
    public int Added => _added.Count;

    public int Hits => _hits;
    public int Misses => _misses;
    private int _hits, _misses;

    public bool TryGet(string contentId, out byte[] entry)
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
            entry = record[ChecksumLength..].ToArray();
            Interlocked.Increment(ref _hits);
            return true;
        }
        Interlocked.Increment(ref _misses);
        entry = [];
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
        if (added + keepOld.Sum(e => (long)e.Value.Length) > _maxPackBytes)
            keepOld = keepOld.Where(e => _used.ContainsKey(e.Key)).ToList();

        string? temp = null;
        try
        {
            Directory.CreateDirectory(_directory);
            temp = Path.Combine(_directory, $"{PackFileName}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                stream.Write(Magic);
                Span<byte> number = stackalloc byte[4];
                BinaryPrimitives.WriteInt32LittleEndian(number, addedSnapshot.Length + keepOld.Count);
                stream.Write(number);
                Span<byte> hash = stackalloc byte[32];
                // Streamed, not assembled in memory: a 5,000-service repo's entries are ~18 MB.
                foreach (var (id, payload) in addedSnapshot)
                {
                    WriteEntryHeader(stream, id, ChecksumLength + payload.Length);
                    SHA256.HashData(payload, hash);
                    stream.Write(hash[..ChecksumLength]);
                    stream.Write(payload);
                }
                foreach (var (id, record) in keepOld)
                {
                    WriteEntryHeader(stream, id, record.Length);
                    stream.Write(record.Span);
                }
            }
            File.Move(temp, PackPath, overwrite: true);
            temp = null;
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
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

    /// <summary>A record is an 8-byte checksum (SHA-256 prefix) followed by the payload.</summary>
    private static bool TryVerify(ReadOnlySpan<byte> record, out ReadOnlySpan<byte> payload)
    {
        payload = default;
        if (record.Length < ChecksumLength) return false;
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(record[ChecksumLength..], hash);
        if (!hash[..ChecksumLength].SequenceEqual(record[..ChecksumLength])) return false;
        payload = record[ChecksumLength..];
        return true;
    }

    /// <summary>Indexes the pack and verifies every entry's checksum (on all cores: it is ~25 MB for 5,000 services);
    /// stops at the first structural damage and keeps what came before it; drops entries that fail their checksum.
    /// The index maps ids to verified records (checksum, then payload).</summary>
    private Dictionary<string, ReadOnlyMemory<byte>> ReadPack()
    {
        var index = new Dictionary<string, ReadOnlyMemory<byte>>(StringComparer.Ordinal);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(PackPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return index; // absent or unreadable: an empty cache
        }
        var span = bytes.AsSpan();
        if (span.Length < Magic.Length + 4 || !span[..Magic.Length].SequenceEqual(Magic)) return index;
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
            index[id] = new ReadOnlyMemory<byte>(bytes, pos, length);
            pos += length;
        }
        var records = index.ToArray();
        var valid = new bool[records.Length];
        Parallel.For(0, records.Length, i => valid[i] = TryVerify(records[i].Value.Span, out _));
        for (var i = 0; i < records.Length; i++)
            if (!valid[i]) index.Remove(records[i].Key);
        return index;
    }
}
