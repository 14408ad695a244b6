using System.Buffers;
using System.Collections.Immutable;
using System.Text;
using System.Text.Unicode;

namespace Reconciler.Diff.Live;

/// <summary>
/// A field snapshot (path -> display value, as <see cref="LiveService.Fields"/>) packed into one UTF-8 byte array:
/// each path and each value in snapshot order, each followed by the byte 0xFF, which valid UTF-8 never contains.
/// Equal bytes therefore mean the same pairs in the same order. This is how the planner recognises a converged
/// service (most services of a large repo on most runs): the desired spec is packed into the same form
/// (<see cref="Planning.ServiceFields"/>) and compared byte for byte, and the stores pack the snapshot while reading
/// it, so neither side builds a dictionary or a string per field. <see cref="Unpack"/> gives the dictionary when a
/// field diff needs it.
/// </summary>
public sealed class PackedFields
{
    private const byte End = 0xFF;
    private readonly byte[] _bytes;

    private PackedFields(byte[] bytes, bool exact)
    {
        _bytes = bytes;
        IsExact = exact;
    }

    /// <summary>The packed pairs.</summary>
    public ReadOnlySpan<byte> Bytes => _bytes;

    /// <summary>False when some text was not valid UTF-16 (a lone surrogate) and was packed with a replacement
    /// character: such a packing proves nothing when compared and is never unpacked.</summary>
    public bool IsExact { get; }

    /// <summary>Packs pairs in the order given.</summary>
    public static PackedFields Pack(IEnumerable<KeyValuePair<string, string>> pairs)
    {
        var writer = new Writer();
        foreach (var (path, value) in pairs) writer.Add(path, value);
        return writer.ToPacked();
    }

    /// <summary>True when both hold the same pairs in the same order (and both are exact).</summary>
    public bool SameAs(ReadOnlySpan<byte> packed, bool exact) => IsExact && exact && packed.SequenceEqual(_bytes);

    /// <summary>The pairs as a dictionary on the ordinal comparer. Throws <see cref="InvalidDataException"/> when a path
    /// occurs twice, which a reader of stored state checks before it relies on the packing.</summary>
    public ImmutableSortedDictionary<string, string> Unpack()
    {
        if (!IsExact) throw new InvalidOperationException("an inexact packing is never unpacked");
        var result = ImmutableSortedDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        var rest = _bytes.AsSpan();
        while (!rest.IsEmpty)
        {
            var path = Next(ref rest);
            var value = Next(ref rest);
            if (!result.TryAdd(path, value)) throw new InvalidDataException($"duplicate path '{path}' in the fields");
        }
        return result.ToImmutable();
    }

    private static string Next(ref Span<byte> rest)
    {
        var end = rest.IndexOf(End);
        if (end < 0) throw new InvalidDataException("truncated packed fields");
        var text = Encoding.UTF8.GetString(rest[..end]);
        rest = rest[(end + 1)..];
        return text;
    }

    /// <summary>Builds a packing one string at a time; a string may be appended in several parts before it is ended.
    /// Reusable after <see cref="Reset"/>, so a thread can pack many snapshots in one buffer.</summary>
    public sealed class Writer
    {
        private byte[] _buffer = new byte[2048];
        private int _length;
        private int _lastKeyStart = -1, _lastKeyEnd = -1, _stringStart;
        private bool _atKey = true;

        /// <summary>Everything written so far.</summary>
        public ReadOnlySpan<byte> Written => _buffer.AsSpan(0, _length);

        /// <summary>False once some text could not be packed exactly (see <see cref="PackedFields.IsExact"/>).</summary>
        public bool IsExact { get; private set; } = true;

        /// <summary>True while every path so far is greater (in UTF-8 byte order) than the one before it: the pairs then
        /// hold no path twice.</summary>
        public bool PathsAscending { get; private set; } = true;

        public void Reset()
        {
            _length = 0;
            _lastKeyStart = _lastKeyEnd = -1;
            _stringStart = 0;
            _atKey = true;
            IsExact = PathsAscending = true;
        }

        public void Add(ReadOnlySpan<char> path, ReadOnlySpan<char> value)
        {
            Append(path);
            EndString();
            Append(value);
            EndString();
        }

        /// <summary>Appends part of the current string, UTF-16.</summary>
        public void Append(ReadOnlySpan<char> text)
        {
            Ensure(Encoding.UTF8.GetMaxByteCount(text.Length));
            var status = Utf8.FromUtf16(text, _buffer.AsSpan(_length), out _, out var written, replaceInvalidSequences: false);
            if (status == OperationStatus.InvalidData)
            {
                IsExact = false;
                status = Utf8.FromUtf16(text, _buffer.AsSpan(_length), out _, out written, replaceInvalidSequences: true);
            }
            if (status != OperationStatus.Done) throw new InvalidOperationException("buffer sized for the worst case");
            _length += written;
        }

        /// <summary>Appends part of the current string, already UTF-8. The caller guarantees it is valid UTF-8.</summary>
        public void AppendUtf8(ReadOnlySpan<byte> utf8)
        {
            Ensure(utf8.Length);
            utf8.CopyTo(_buffer.AsSpan(_length));
            _length += utf8.Length;
        }

        /// <summary>Ends the current string: paths and values alternate, starting with a path.</summary>
        public void EndString()
        {
            if (_atKey)
            {
                if (_lastKeyStart >= 0 && _buffer.AsSpan(_stringStart, _length - _stringStart).SequenceCompareTo(_buffer.AsSpan(_lastKeyStart, _lastKeyEnd - _lastKeyStart)) <= 0)
                    PathsAscending = false;
                (_lastKeyStart, _lastKeyEnd) = (_stringStart, _length);
            }
            _atKey = !_atKey;
            Ensure(1);
            _buffer[_length++] = End;
            _stringStart = _length;
        }

        /// <summary>A copy of what was written.</summary>
        public PackedFields ToPacked()
        {
            if (!_atKey) throw new InvalidOperationException("a path without a value");
            return new PackedFields(Written.ToArray(), IsExact);
        }

        private void Ensure(int more)
        {
            if (_buffer.Length - _length >= more) return;
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + more));
        }
    }
}
