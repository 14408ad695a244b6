using System.Buffers;
using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Unicode;
using Newtonsoft.Json.Linq;
using Reconciler.Schema.Model;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Reconciler.Schema.Loading;

/// <summary>
/// Turns the bytes of one YAML file into a JSON tree plus a map JSON pointer -> YAML position, or into diagnostics.
/// Works at YamlDotNet's event level (not its object model) so every node keeps its line:col, duplicate keys are
/// seen, and anchors/aliases are refused before anything is expanded (which is what defeats "billion laughs").
/// Plain scalars are typed by the YAML 1.2 core schema; their source text is kept so "version: 1.10" (a float)
/// can be reported as such. <see cref="FastYaml"/> reads the common subset of YAML first, with the same result, and
/// hands everything else to the YamlDotNet path below (docs/benchmarks/repo.md).
/// </summary>
internal static class YamlToJson
{
    public const long MaxFileBytes = 1024 * 1024;
    private const int MaxDepth = 64;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static (JToken? Root, Dictionary<string, NodeInfo> Nodes, List<FileDiagnostic> Diagnostics) Convert(byte[] bytes) =>
        Convert(bytes, fastPath: true, out _);

    /// <summary>
    /// <paramref name="fastPath"/> tries <see cref="FastYaml"/> first (the common subset our files use) and falls back
    /// to YamlDotNet when it declines; <paramref name="usedFastPath"/> says which one produced the result. The two
    /// must agree exactly (YamlToJsonFastPathTests); the switch exists for those tests and bench/schema-harness.
    /// </summary>
    internal static (JToken? Root, Dictionary<string, NodeInfo> Nodes, List<FileDiagnostic> Diagnostics) Convert(
        byte[] bytes, bool fastPath, out bool usedFastPath)
    {
        usedFastPath = false;
        var diagnostics = new List<FileDiagnostic>();
        // Sized for about one node per 16 bytes (repository files have one per ~19), so the map rarely grows.
        var nodes = new Dictionary<string, NodeInfo>(bytes.Length <= MaxFileBytes ? bytes.Length / 16 : 0, StringComparer.Ordinal);

        if (bytes.LongLength > MaxFileBytes)
        {
            diagnostics.Add(TooLarge(bytes.LongLength));
            return (null, nodes, diagnostics);
        }
        var text = Decode(bytes, diagnostics);
        if (text is null) return (null, nodes, diagnostics);

        if (YamlTextChecks.FindUnicodeLineBreak(text, diagnostics) || YamlTextChecks.EndsInBlankLineWithoutBreak(text, diagnostics)) return (null, nodes, diagnostics);

        // The fast path declines any text with a tab, so it runs before the tab check without hiding a yaml.tab.
        if (fastPath)
        {
            if (FastYaml.TryRead(text, nodes) is { } fastRoot)
            {
                usedFastPath = true;
                return (fastRoot, nodes, diagnostics);
            }
            nodes.Clear();
        }

        if (YamlTextChecks.FindTabIndentation(text, diagnostics)) return (null, nodes, diagnostics);

        var reader = new EventReader(text, nodes, diagnostics);
        try
        {
            var root = reader.ReadStream();
            if (root is null)
            {
                diagnostics.Add(new FileDiagnostic(Severity.Error, "file.empty",
                    "the file is empty; every file needs at least 'apiVersion: reconciler/v1' and 'kind'", 1, 1));
                return (null, nodes, diagnostics);
            }
            return (root, nodes, diagnostics);
        }
        catch (FatalYamlError fatal)
        {
            diagnostics.Add(fatal.Diagnostic);
            return (null, nodes, diagnostics);
        }
        catch (YamlException e)
        {
            diagnostics.Add(new FileDiagnostic(Severity.Error, "yaml.syntax",
                YamlSyntaxMessages.Explain(e.Message),
                Math.Max(1, (int)e.Start.Line), Math.Max(1, (int)e.Start.Column)));
            return (null, nodes, diagnostics);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or FormatException or OverflowException)
        {
            // YamlDotNet's scanner can fail this way on some truncated input (e.g. an unclosed flow mapping before
            // a block key); the input is still just bad YAML, so report it at the last place that parsed.
            var (line, column) = reader.LastGoodPosition;
            diagnostics.Add(new FileDiagnostic(Severity.Error, "yaml.syntax",
                "malformed YAML: the parser could not continue after this point; check for an unclosed '{', '[' or quote",
                line, column));
            return (null, nodes, diagnostics);
        }
    }

    public static FileDiagnostic TooLarge(long size) =>
        new(Severity.Error, "file.too-large",
            $"the file is {size.ToString(CultureInfo.InvariantCulture)} bytes; the limit is 1 MiB ({MaxFileBytes.ToString(CultureInfo.InvariantCulture)} bytes). Split it or remove generated content",
            1, 1);

    private static string? Decode(byte[] bytes, List<FileDiagnostic> diagnostics)
    {
        ReadOnlySpan<byte> span = bytes;
        if (span.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) span = span[3..];
        else if (span.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE]) || span.StartsWith((ReadOnlySpan<byte>)[0xFE, 0xFF]))
        {
            diagnostics.Add(new FileDiagnostic(Severity.Error, "file.encoding",
                "the file is UTF-16; save it as UTF-8", 1, 1));
            return null;
        }

        var buffer = ArrayPool<char>.Shared.Rent(span.Length + 1);
        try
        {
            var status = Utf8.ToUtf16(span, buffer, out var bytesRead, out var charsWritten, replaceInvalidSequences: false);
            if (status == OperationStatus.Done) return new string(buffer, 0, charsWritten);

            // Report the first bad byte where an editor would show it.
            var (line, column) = PositionOf(buffer.AsSpan(0, charsWritten));
            var bad = span[bytesRead];
            diagnostics.Add(new FileDiagnostic(Severity.Error, "file.encoding",
                $"invalid UTF-8 byte 0x{bad:X2}; save the file as UTF-8 (it may be Latin-1 or Windows-1252)", line, column));
            return null;
        }
        finally
        {
            ArrayPool<char>.Shared.Return(buffer);
        }
    }

    internal static (int Line, int Column) PositionOf(ReadOnlySpan<char> before)
    {
        var line = 1;
        var lastNewline = -1;
        for (var i = 0; i < before.Length; i++)
            if (before[i] == '\n') { line++; lastNewline = i; }
        return (line, before.Length - lastNewline);
    }

    /// <summary>YAML 1.2 core schema for plain scalars (so "yes"/"no"/"on" stay strings, unlike YAML 1.1).</summary>
    internal static (JToken Value, NodeKind Kind) ResolvePlain(string value)
    {
        switch (value)
        {
            case "" or "~" or "null" or "Null" or "NULL": return (JValue.CreateNull(), NodeKind.Null);
            case "true" or "True" or "TRUE": return (new JValue(true), NodeKind.Boolean);
            case "false" or "False" or "FALSE": return (new JValue(false), NodeKind.Boolean);
            case ".inf" or ".Inf" or ".INF" or "+.inf" or "+.Inf" or "+.INF": return (new JValue(double.PositiveInfinity), NodeKind.Float);
            case "-.inf" or "-.Inf" or "-.INF": return (new JValue(double.NegativeInfinity), NodeKind.Float);
            case ".nan" or ".NaN" or ".NAN": return (new JValue(double.NaN), NodeKind.Float);
        }
        var c = value[0];
        if (!(char.IsAsciiDigit(c) || c is '-' or '+' or '.')) return (new JValue(value), NodeKind.String);

        // Integers of any size are exact (BigInteger past 64 bits), so 0xFFFFFFFFFFFFFFFF is 18446744073709551615, not -1.
        if (IsDecimalInteger(value))
            return (long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l)
                ? new JValue(l)
                : Integer(BigInteger.Parse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture)), NodeKind.Integer);
        if (value.Length > 2 && value[0] == '0' && value[1] == 'x' && IsDigits(value.AsSpan(2), 16))
            return (Integer(BigInteger.Parse("0" + value[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture)), NodeKind.Integer);
        if (value.Length > 2 && value[0] == '0' && value[1] == 'o' && IsDigits(value.AsSpan(2), 8))
        {
            var octal = BigInteger.Zero;
            foreach (var digit in value.AsSpan(2)) octal = octal * 8 + (digit - '0');
            return (Integer(octal), NodeKind.Integer);
        }
        if (IsFloat(value) && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d))
            return (new JValue(d), NodeKind.Float);
        return (new JValue(value), NodeKind.String);
    }

    private static bool IsDecimalInteger(string s)
    {
        var i = s[0] is '-' or '+' ? 1 : 0;
        if (i >= s.Length) return false;
        for (; i < s.Length; i++) if (!char.IsAsciiDigit(s[i])) return false;
        return true;
    }

    private static JValue Integer(BigInteger n) => n >= long.MinValue && n <= long.MaxValue ? new JValue((long)n) : new JValue(n);

    private static bool IsDigits(ReadOnlySpan<char> s, int radix)
    {
        foreach (var ch in s)
            if (!(radix == 16 ? char.IsAsciiHexDigit(ch) : ch is >= '0' and <= '7')) return false;
        return s.Length > 0;
    }

    // [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
    private static bool IsFloat(string s)
    {
        var i = 0;
        if (i < s.Length && s[i] is '-' or '+') i++;
        var intDigits = 0;
        while (i < s.Length && char.IsAsciiDigit(s[i])) { i++; intDigits++; }
        var fracDigits = 0;
        if (i < s.Length && s[i] == '.')
        {
            i++;
            while (i < s.Length && char.IsAsciiDigit(s[i])) { i++; fracDigits++; }
        }
        if (intDigits == 0 && fracDigits == 0) return false;
        if (i < s.Length && s[i] is 'e' or 'E')
        {
            i++;
            if (i < s.Length && s[i] is '-' or '+') i++;
            var expDigits = 0;
            while (i < s.Length && char.IsAsciiDigit(s[i])) { i++; expDigits++; }
            if (expDigits == 0) return false;
        }
        return i == s.Length;
    }

    private sealed class FatalYamlError(FileDiagnostic diagnostic) : Exception(diagnostic.Message)
    {
        public FileDiagnostic Diagnostic { get; } = diagnostic;
    }

    private sealed class EventReader(string text, Dictionary<string, NodeInfo> nodes, List<FileDiagnostic> diagnostics)
    {
        private readonly Parser _parser = new(new StringReader(text));

        // Swapped out while a duplicate key's value is read, so its positions do not shadow the first value's.
        private Dictionary<string, NodeInfo> _nodes = nodes;

        public (int Line, int Column) LastGoodPosition { get; private set; } = (1, 1);

        private void Advance()
        {
            if (_parser.Current is { } current) LastGoodPosition = (Line(current.Start), Column(current.Start));
            _parser.MoveNext();
        }

        public JToken? ReadStream()
        {
            Expect<StreamStart>();
            if (_parser.Current is StreamEnd) return null;
            Expect<DocumentStart>();
            var root = _parser.Current is DocumentEnd ? null : ReadNode("", 0, 0, 0);
            Expect<DocumentEnd>();
            if (_parser.Current is DocumentStart second)
            {
                // A trailing "---" with nothing after it is still an (empty) second document: refuse it too.
                throw new FatalYamlError(new FileDiagnostic(Severity.Error, "yaml.multiple-documents",
                    "the file holds more than one YAML document ('---'); put each document in its own file",
                    Line(second.Start), Column(second.Start)));
            }
            if (root is JValue { Type: JTokenType.Null }) return null;
            return root;
        }

        private void Expect<T>() where T : ParsingEvent
        {
            if (_parser.Current is null) Advance();
            if (_parser.Current is not T)
                throw new YamlException(_parser.Current?.Start ?? Mark.Empty, _parser.Current?.End ?? Mark.Empty, $"expected {typeof(T).Name}");
            Advance();
        }

        private JToken ReadNode(string pointer, int keyLine, int keyColumn, int depth)
        {
            var ev = _parser.Current!;
            var line = Line(ev.Start);
            var column = Column(ev.Start);
            if (depth > MaxDepth)
                throw new FatalYamlError(new FileDiagnostic(Severity.Error, "yaml.too-deep",
                    $"nesting deeper than {MaxDepth} levels; flatten the structure", line, column, pointer));
            if (ev is AnchorAlias alias)
                throw Anchor($"alias '*{alias.Value}'", line, column, pointer);
            if (ev is NodeEvent { Anchor.IsEmpty: false } anchored)
                throw Anchor($"anchor '&{anchored.Anchor}'", line, column, pointer);

            switch (ev)
            {
                case Scalar scalar:
                {
                    Advance();
                    var (value, kind) = Resolve(scalar, line, column, pointer);
                    _nodes[pointer] = new NodeInfo(line, column, keyLine, keyColumn, kind,
                        kind is NodeKind.String ? null : scalar.Value);
                    return value;
                }
                case MappingStart mapping:
                {
                    RefuseTag(mapping.Tag, "tag:yaml.org,2002:map", line, column, pointer);
                    Advance();
                    _nodes[pointer] = new NodeInfo(line, column, keyLine, keyColumn, NodeKind.Mapping, null);
                    var obj = new JObject();
                    while (_parser.Current is not MappingEnd)
                    {
                        var keyEvent = _parser.Current!;
                        var kLine = Line(keyEvent.Start);
                        var kColumn = Column(keyEvent.Start);
                        if (keyEvent is AnchorAlias keyAlias) throw Anchor($"alias '*{keyAlias.Value}'", kLine, kColumn, pointer);
                        if (keyEvent is NodeEvent { Anchor.IsEmpty: false } keyAnchor) throw Anchor($"anchor '&{keyAnchor.Anchor}'", kLine, kColumn, pointer);
                        if (keyEvent is not Scalar keyScalar)
                            throw new FatalYamlError(new FileDiagnostic(Severity.Error, "yaml.complex-key",
                                "a mapping key must be a plain word, not a list or mapping", kLine, kColumn, pointer));
                        Advance();
                        var key = keyScalar.Value;
                        if (!keyScalar.Tag.IsEmpty && !keyScalar.Tag.IsNonSpecific && keyScalar.Tag.Value != "tag:yaml.org,2002:str")
                            throw new FatalYamlError(new FileDiagnostic(Severity.Error, "yaml.tag",
                                $"YAML tag '{ShortTag(keyScalar.Tag.Value)}' is not supported; remove it (quote a key to make it text)", kLine, kColumn, pointer));
                        if (keyScalar.Style == ScalarStyle.Plain && keyScalar.Tag.IsEmpty && ResolvePlain(key).Kind is var keyKind and not NodeKind.String)
                        {
                            // 'true' and 'TRUE' (or 'null' and '~', '1' and '0x1') are one key to YAML: refuse the guess.
                            diagnostics.Add(new FileDiagnostic(Severity.Error, "yaml.key-type",
                                $"the key '{key}' is read by YAML as {KeyKindName(keyKind)}, not as text; quote it ('{key}': ...) if you mean the word",
                                kLine, kColumn, ParsedFile.Child(pointer, key)));
                        }
                        var childPointer = ParsedFile.Child(pointer, key);
                        if (obj.ContainsKey(key))
                        {
                            var first = _nodes[childPointer];
                            diagnostics.Add(new FileDiagnostic(Severity.Error, "yaml.duplicate-key",
                                $"duplicate key '{key}' (first defined at line {first.KeyLine}); remove one of them",
                                kLine, kColumn, childPointer));
                            // Read and drop the second value so the rest of the file is still checked.
                            var kept = _nodes;
                            _nodes = new Dictionary<string, NodeInfo>(StringComparer.Ordinal);
                            ReadNode(childPointer, kLine, kColumn, depth + 1);
                            _nodes = kept;
                            continue;
                        }
                        obj[key] = ReadNode(childPointer, kLine, kColumn, depth + 1);
                    }
                    Advance();
                    return obj;
                }
                case SequenceStart sequence:
                {
                    RefuseTag(sequence.Tag, "tag:yaml.org,2002:seq", line, column, pointer);
                    Advance();
                    _nodes[pointer] = new NodeInfo(line, column, keyLine, keyColumn, NodeKind.Sequence, null);
                    var array = new JArray();
                    while (_parser.Current is not SequenceEnd)
                        array.Add(ReadNode(ParsedFile.Child(pointer, array.Count), 0, 0, depth + 1));
                    Advance();
                    return array;
                }
                default:
                    throw new YamlException(ev.Start, ev.End, $"unexpected {ev.GetType().Name}");
            }
        }

        private static FatalYamlError Anchor(string what, int line, int column, string pointer) =>
            new(new FileDiagnostic(Severity.Error, "yaml.anchor",
                $"YAML {what} is not supported (anchors and aliases are refused so a file cannot expand without bound); write the value out in full",
                line, column, pointer));

        private static void RefuseTag(TagName tag, string allowed, int line, int column, string pointer)
        {
            if (tag.IsEmpty || tag.IsNonSpecific || tag.Value == allowed) return;
            throw new FatalYamlError(new FileDiagnostic(Severity.Error, "yaml.tag",
                $"YAML tag '{ShortTag(tag.Value)}' is not supported; remove it (quote a value to make it a string)", line, column, pointer));
        }

        private static string ShortTag(string tag) =>
            tag.StartsWith("tag:yaml.org,2002:", StringComparison.Ordinal) ? "!!" + tag["tag:yaml.org,2002:".Length..] : tag;

        private static (JToken Value, NodeKind Kind) Resolve(Scalar scalar, int line, int column, string pointer)
        {
            var value = scalar.Value;
            if (!scalar.Tag.IsEmpty && !scalar.Tag.IsNonSpecific)
            {
                if (scalar.Tag.Value == "tag:yaml.org,2002:str") return (new JValue(value), NodeKind.String);
                throw new FatalYamlError(new FileDiagnostic(Severity.Error, "yaml.tag",
                    $"YAML tag '{ShortTag(scalar.Tag.Value)}' is not supported; remove it (quote a value to make it a string)", line, column, pointer));
            }
            if (scalar.Style != ScalarStyle.Plain || scalar.Tag.IsNonSpecific) return (new JValue(value), NodeKind.String);
            return ResolvePlain(value);
        }

        private static string KeyKindName(NodeKind kind) => kind switch
        {
            NodeKind.Null => "null (no key)",
            NodeKind.Boolean => "true/false",
            _ => "a number",
        };

        private static int Line(Mark m) => Math.Max(1, (int)m.Line);
        private static int Column(Mark m) => Math.Max(1, (int)m.Column);
    }
}
