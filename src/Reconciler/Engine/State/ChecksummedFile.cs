using System.IO.Hashing;

namespace Reconciler.State;

/// <summary>The framing of the plan caches on disk (<see cref="ConvergedMemoFile"/>, <see cref="PlanSnapshotFile"/>):
/// a magic, the XxHash3 of the body, the body. Written to a temporary file and renamed into place, so a reader sees
/// the old file or the new one; a file that is foreign, cut short or damaged reads as absent, never as data.</summary>
internal static class ChecksummedFile
{
    private const int ChecksumLength = 8;

    /// <returns>False when the file could not be written (a read-only checkout): the cache is simply not kept.</returns>
    public static bool TryWrite(string path, ReadOnlySpan<byte> magic, MemoryStream body) =>
        TryWrite(path, magic, [body.GetBuffer().AsMemory(0, (int)body.Length)]);

    /// <summary>A body in parts, written one after the other (none is copied into a whole first).</summary>
    public static bool TryWrite(string path, ReadOnlySpan<byte> magic, ReadOnlyMemory<byte>[] body)
    {
        string? temp = null;
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            temp = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                file.Write(magic);
                var hash = new XxHash3();
                foreach (var part in body) hash.Append(part.Span);
                Span<byte> checksum = stackalloc byte[ChecksumLength];
                hash.GetCurrentHash(checksum);
                file.Write(checksum);
                foreach (var part in body) file.Write(part.Span);
            }
            File.Move(temp, path, overwrite: true);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (temp is not null) try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            return false;
        }
    }

    /// <summary>The body of <paramref name="bytes"/> as a stream, or null when they do not carry this magic and a
    /// matching checksum.</summary>
    public static MemoryStream? Body(ArraySegment<byte> bytes, ReadOnlySpan<byte> magic)
    {
        var header = magic.Length + ChecksumLength;
        if (bytes.Count < header || !bytes.AsSpan(0, magic.Length).SequenceEqual(magic)) return null;
        Span<byte> checksum = stackalloc byte[ChecksumLength];
        XxHash3.Hash(bytes.AsSpan(header), checksum);
        return checksum.SequenceEqual(bytes.AsSpan(magic.Length, ChecksumLength))
            ? new MemoryStream(bytes.Array!, bytes.Offset + header, bytes.Count - header, writable: false, publiclyVisible: true) : null;
    }
}
