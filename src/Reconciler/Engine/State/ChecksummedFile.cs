using System.IO.Hashing;

namespace Reconciler.State;

/// <summary>The framing of the plan caches on disk (<see cref="ConvergedMemoFile"/>, <see cref="PlanSnapshotFile"/>):
/// a magic, the XxHash3 of the body, the body. Written to a temporary file and renamed into place, so a reader sees
/// the old file or the new one; a file that is foreign, cut short or damaged reads as absent, never as data.</summary>
internal static class ChecksummedFile
{
    private const int ChecksumLength = 8;

    /// <returns>False when the file could not be written (a read-only checkout): the cache is simply not kept.</returns>
    public static bool TryWrite(string path, ReadOnlySpan<byte> magic, MemoryStream body)
    {
        string? temp = null;
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            temp = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                file.Write(magic);
                Span<byte> checksum = stackalloc byte[ChecksumLength];
                XxHash3.Hash(body.GetBuffer().AsSpan(0, (int)body.Length), checksum);
                file.Write(checksum);
                file.Write(body.GetBuffer(), 0, (int)body.Length);
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

    /// <summary>The body written by <paramref name="writeBody"/> straight to the file (hashed on its way there, the
    /// checksum filled in after it), for a body too large to hold twice: a 25 MB plan snapshot was copied into a
    /// buffer first.</summary>
    public static bool TryWrite(string path, ReadOnlySpan<byte> magic, Action<Stream> writeBody)
    {
        string? temp = null;
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            temp = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                file.Write(magic);
                file.Write(stackalloc byte[ChecksumLength]);   // filled in below
                var hashing = new HashingStream(file);
                writeBody(hashing);
                Span<byte> checksum = stackalloc byte[ChecksumLength];
                hashing.Hash.GetCurrentHash(checksum);
                file.Position = magic.Length;
                file.Write(checksum);
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

    /// <summary>Passes writes on to a stream and hashes them (XxHash3, as <see cref="Body"/> checks).</summary>
    private sealed class HashingStream(Stream inner) : Stream
    {
        public XxHash3 Hash { get; } = new();

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            Hash.Append(buffer);
            inner.Write(buffer);
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void WriteByte(byte value) => Write([value]);

        public override void Flush() => inner.Flush();

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }

    /// <summary>Where the body starts in the file.</summary>
    public static int HeaderLength(ReadOnlySpan<byte> magic) => magic.Length + ChecksumLength;

    /// <summary>The body of <paramref name="bytes"/> as a stream, or null when they do not carry this magic and a
    /// matching checksum.</summary>
    public static MemoryStream? Body(byte[] bytes, ReadOnlySpan<byte> magic)
    {
        var header = HeaderLength(magic);
        if (bytes.Length < header || !bytes.AsSpan(0, magic.Length).SequenceEqual(magic)) return null;
        Span<byte> checksum = stackalloc byte[ChecksumLength];
        XxHash3.Hash(bytes.AsSpan(header), checksum);
        return checksum.SequenceEqual(bytes.AsSpan(magic.Length, ChecksumLength)) ? new MemoryStream(bytes, header, bytes.Length - header) : null;
    }
}
