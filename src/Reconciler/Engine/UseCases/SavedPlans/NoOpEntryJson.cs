using System.Buffers.Text;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using Reconciler.Diff.Planning;
using Reconciler.State;

namespace Reconciler.UseCases;

/// <summary>
/// The fast path of <see cref="PlanJsonWriter"/> for the bulk of a large plan: a no-op entry (no fields, no hosts, no
/// rollout) whose strings need no escaping is put together from fixed pieces and handed to the writer as one raw value.
/// Through the writer, property by property, such an entry cost ~1.4 us, most of it checking and transcoding each
/// string; 60,000 of them were a quarter of a warm plan at 20,000 services (docs/benchmarks.md, "Warm plan at the
/// cost of the change").
/// Anything else (another action, a string the encoder would escape or that is not valid UTF-16, a writer with other
/// options or at another depth) declines, and the entry goes through the writer. PlanJsonWriterTests hold both paths
/// to the serializer's bytes.
/// </summary>
internal sealed class NoOpEntryJson
{
    /// <summary>The depth of an entry of "services": inside the document's object and the array.</summary>
    private const int EntryDepth = 2;

    private static readonly byte[] NoOp = Encoding.UTF8.GetBytes(PlanJsonWriter.ServiceActionName(ServiceAction.NoOp));
    private static readonly JsonWriterOptions Expected = PlanJsonWriter.Options;
    private static readonly byte[] Open = Encoding.UTF8.GetBytes(Line(EntryDepth) + "{");
    private static readonly byte[] Close = Encoding.UTF8.GetBytes(Line(EntryDepth) + "}");
    private static readonly byte[] Service = Property("service", first: true);
    private static readonly byte[] Action = Property("action");
    private static readonly byte[] Reason = Property("reason");
    private static readonly byte[] FromVersion = Property("fromVersion");
    private static readonly byte[] ToVersion = Property("toVersion");
    private static readonly byte[] FromRelease = Property("fromRelease");
    private static readonly byte[] ToRelease = Property("toRelease");
    private static readonly byte[] HostGroup = Property("hostGroup");
    private static readonly byte[] EmptyFieldsAndHosts = Encoding.UTF8.GetBytes($",{Line(EntryDepth + 1)}\"fields\": [],{Line(EntryDepth + 1)}\"hosts\": []");
    private static readonly byte[] Wave = Property("wave");

    private byte[] _buffer = new byte[512];
    private int _length;
    // The last value of this entry (a no-op's version and release are the same instance before and after), and the
    // reasons and host groups seen (tens of instances across thousands of entries), by instance in a direct-mapped
    // table: copied, not encoded again.
    private string? _previous;
    private int _previousStart, _previousLength;
    private readonly (string? Text, byte[]? Quoted)[] _recent = new (string?, byte[]?)[64];

    /// <summary>The new line and indentation the writer puts before a token at <paramref name="depth"/>.</summary>
    private static string Line(int depth) => Expected.NewLine + new string(Expected.IndentCharacter, Expected.IndentSize * depth);

    private static byte[] Property(string name, bool first = false) =>
        Encoding.UTF8.GetBytes($"{(first ? "" : ",")}{Line(EntryDepth + 1)}\"{name}\": ");

    /// <summary>True when the writer formats as this class assumes: the plan writer's options, at an entry's depth.</summary>
    public static bool Fits(Utf8JsonWriter w) =>
        w.CurrentDepth == EntryDepth && w.Options.Indented == Expected.Indented && w.Options.IndentCharacter == Expected.IndentCharacter
        && w.Options.IndentSize == Expected.IndentSize && w.Options.NewLine == Expected.NewLine && ReferenceEquals(w.Options.Encoder, Expected.Encoder);

    /// <summary>Writes <paramref name="s"/> as the writer would, or returns false having written nothing.</summary>
    public bool TryWrite(Utf8JsonWriter w, ServiceChange s)
    {
        if (s.Action != ServiceAction.NoOp || !s.Fields.IsEmpty || !s.Hosts.IsEmpty || s.Rollout is not null) return false;
        _length = 0;
        _previous = null;
        Put(Open);
        if (!String(Service, s.Service)) return false;
        Put(Action);
        Put("\""u8);
        Put(NoOp);
        Put("\""u8);
        if (!String(Reason, s.Reason, recent: true) || !Optional(FromVersion, s.FromVersion) || !Optional(ToVersion, s.ToVersion)
            || !Optional(FromRelease, s.FromRelease) || !Optional(ToRelease, s.ToRelease) || !String(HostGroup, s.HostGroup, recent: true))
            return false;
        Finish(w, s.Wave);
        return true;
    }

    // The record path's pieces: each from the closing quote of one string to the opening quote of the next, so that an
    // entry is a few copies (one per string and one per piece between strings).
    private static readonly byte[] OpenToService = [.. Open, .. Service, (byte)'"'];
    private static readonly byte[] ServiceToReason = [(byte)'"', .. Action, .. "\""u8, .. NoOp, .. "\""u8, .. Reason, (byte)'"'];
    private static readonly byte[][] ToOptional = [.. new[] { FromVersion, ToVersion, FromRelease, ToRelease }.Select(p => (byte[])[(byte)'"', .. p, (byte)'"'])];
    private static readonly byte[] ToHostGroup = [(byte)'"', .. HostGroup, (byte)'"'];
    private static readonly byte[] HostGroupToWave = [(byte)'"', .. EmptyFieldsAndHosts, .. Wave];

    /// <summary>An entry of a snapshot's plan straight from its record and the UTF-8 of the snapshot's strings, when it
    /// is a plain no-op whose strings need no escaping; else false, nothing written.</summary>
    public bool TryWrite(Utf8JsonWriter w, SnapshotStrings strings, in PlanCodec.EntryRecord record)
    {
        if (record.Action != ServiceAction.NoOp || !record.Plain) return false;
        _length = 0;
        if (!Piece(OpenToService, strings, record.Service) || !Piece(ServiceToReason, strings, record.Reason)
            || !Optional(0, strings, record.FromVersion) || !Optional(1, strings, record.ToVersion)
            || !Optional(2, strings, record.FromRelease) || !Optional(3, strings, record.ToRelease)
            || !Piece(ToHostGroup, strings, record.HostGroup))
            return false;
        Put(HostGroupToWave);
        End(w, record.Wave);
        return true;
    }

    private bool Optional(int property, SnapshotStrings strings, int index) => index == 0 || Piece(ToOptional[property], strings, index);

    /// <summary><paramref name="piece"/>, then the string of <paramref name="index"/> (a table index + 1) when the encoder
    /// leaves it as it is. Each string is checked once (<see cref="SnapshotStrings.JsonVerbatim"/>).</summary>
    private bool Piece(byte[] piece, SnapshotStrings strings, int index)
    {
        var utf8 = strings.Utf8(index - 1);
        ref var verbatim = ref strings.JsonVerbatim[index - 1];
        if (verbatim == 0) verbatim = Expected.Encoder!.FindFirstCharacterToEncodeUtf8(utf8) < 0 ? (sbyte)1 : (sbyte)-1;
        if (verbatim < 0) return false;
        Reserve(piece.Length + utf8.Length);
        var to = _buffer.AsSpan(_length);
        piece.CopyTo(to);
        utf8.CopyTo(to[piece.Length..]);
        _length += piece.Length + utf8.Length;
        return true;
    }

    /// <summary>The empty lists, the wave and the closing brace; then the entry to the writer as one raw value.</summary>
    private void Finish(Utf8JsonWriter w, int wave)
    {
        Put(EmptyFieldsAndHosts);
        Put(Wave);
        End(w, wave);
    }

    /// <summary>The wave's number and the closing brace; then the entry to the writer as one raw value.</summary>
    private void End(Utf8JsonWriter w, int wave)
    {
        Reserve(11);
        Utf8Formatter.TryFormat(wave, _buffer.AsSpan(_length), out var digits);
        _length += digits;
        Put(Close);
        // The writer adds the list separator; the pieces carry the new line and indentation it would have written.
        w.WriteRawValue(_buffer.AsSpan(0, _length), skipInputValidation: true);
    }

    private bool Optional(byte[] property, string? value) => value is null || String(property, value);

    /// <summary>The property and its value in quotes, when the value is valid UTF-16 that the encoder leaves as it is.</summary>
    /// <param name="recent">Look the value up among those kept, and keep it.</param>
    private bool String(byte[] property, string value, bool recent = false)
    {
        Put(property);
        if (ReferenceEquals(value, _previous))
        {
            Reserve(_previousLength);
            _buffer.AsSpan(_previousStart, _previousLength).CopyTo(_buffer.AsSpan(_length));
            _length += _previousLength;
            return true;
        }
        var slot = recent ? RuntimeHelpers.GetHashCode(value) & (_recent.Length - 1) : -1;
        if (slot >= 0 && ReferenceEquals(_recent[slot].Text, value))
        {
            Put(_recent[slot].Quoted);
            return true;
        }
        var start = _length;
        Reserve(value.Length * 3 + 2);
        _buffer[_length++] = (byte)'"';
        var destination = _buffer.AsSpan(_length);
        if (Utf8.FromUtf16(value, destination, out _, out var written, replaceInvalidSequences: false) != System.Buffers.OperationStatus.Done
            || Expected.Encoder!.FindFirstCharacterToEncodeUtf8(destination[..written]) >= 0)
            return false;
        _length += written;
        _buffer[_length++] = (byte)'"';
        (_previous, _previousStart, _previousLength) = (value, start, _length - start);
        if (slot >= 0) _recent[slot] = (value, _buffer[start.._length]);
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Put(ReadOnlySpan<byte> piece)
    {
        Reserve(piece.Length);
        piece.CopyTo(_buffer.AsSpan(_length));
        _length += piece.Length;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Reserve(int bytes)
    {
        if (_length + bytes > _buffer.Length) Grow(bytes);
    }

    private void Grow(int bytes) => Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + bytes));
}
