using System.Buffers;

namespace Reconciler.Views;

/// <summary>
/// A write-only stream over pooled 1 MB chunks, for output whose size is not known in advance (a plan's JSON is
/// up to tens of MB). Unlike a MemoryStream it never re-copies what it holds as it grows (a MemoryStream doubles
/// and copies, then copies again in ToArray); <see cref="ToArray"/> copies everything once. Returns its chunks on
/// dispose.
/// Hand-written: the framework has no segmented write stream (docs/benchmarks/planner.md).
/// </summary>
internal sealed class ChunkedBuffer : Stream
{
    private const int ChunkSize = 1 << 20;
    private readonly List<byte[]> _chunks = [];
    private int _used = ChunkSize; // bytes used in the last chunk; "full" until the first write
    private long _length;

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => _length;

    public override long Position
    {
        get => _length;
        set => throw new NotSupportedException();
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            if (_used == ChunkSize)
            {
                _chunks.Add(ArrayPool<byte>.Shared.Rent(ChunkSize));
                _used = 0;
            }
            var n = Math.Min(buffer.Length, ChunkSize - _used);
            buffer[..n].CopyTo(_chunks[^1].AsSpan(_used));
            _used += n;
            _length += n;
            buffer = buffer[n..];
        }
    }

    public override void WriteByte(byte value) => Write([value]);

    public byte[] ToArray()
    {
        var result = GC.AllocateUninitializedArray<byte>(checked((int)_length));
        WriteTo(new MemoryStream(result));   // a fixed-size stream over the result: one copy
        return result;
    }

    /// <summary>Everything written, to <paramref name="destination"/>, chunk by chunk.</summary>
    public void WriteTo(Stream destination)
    {
        for (var i = 0; i < _chunks.Count; i++)
            destination.Write(_chunks[i], 0, i < _chunks.Count - 1 ? ChunkSize : _used);
    }

    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        foreach (var chunk in _chunks) ArrayPool<byte>.Shared.Return(chunk);
        _chunks.Clear();
        base.Dispose(disposing);
    }
}
