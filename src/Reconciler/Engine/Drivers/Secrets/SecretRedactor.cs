using System.Net;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Reconciler.Drivers.Secrets;

/// <summary>
/// Cleans text captured from hosts (command output, error messages) of every secret value resolved in this apply, then
/// bounds it to <see cref="MaxOutputBytes"/> bytes (its head and tail), before it is shown or stored anywhere (errors, journal,
/// history, quarantine reasons, status, notifications, traces: docs/apply.md, "Secrets in host output").
/// <para>Each value is replaced in every form a host is likely to print it in: as it is; JSON-escaped (config.json is
/// written with relaxed escaping, other programs use the strict default); shell-quoted as in .env; URL-encoded (both
/// %20 and + for a space); and each of the first four base64- and base64url-encoded, also at any offset inside a
/// longer base64 text (`base64 config.json`).
/// Every value is redacted, however short: in its plain, JSON, shell and URL forms always; its base64 forms are
/// matched at an offset only when the fragment that is certain at that offset has at least
/// <see cref="MinBase64Fragment"/> characters (shorter fragments would match unrelated base64 text everywhere, and a
/// value that short is already replaced wherever it appears as itself).</para>
/// Thread-safe: values are added while host steps run in parallel.
/// </summary>
public sealed class SecretRedactor
{
    public const string Mask = "[redacted]";
    public const int MaxOutputBytes = 4096;
    public const int MinBase64Fragment = 6;

    private readonly object _lock = new();
    private readonly HashSet<string> _values = new(StringComparer.Ordinal);
    private string[] _forms = [];   // longest first, so that a longer form is replaced before a form inside it

    /// <summary>Registers a resolved secret value (an empty value has nothing to hide).</summary>
    public void Add(string value)
    {
        if (value.Length == 0) return;
        lock (_lock)
        {
            if (!_values.Add(value)) return;
            var forms = new HashSet<string>(_forms, StringComparer.Ordinal);
            foreach (var form in FormsOf(value)) if (form.Length > 0) forms.Add(form);
            _forms = [.. forms.OrderByDescending(f => f.Length).ThenBy(f => f, StringComparer.Ordinal)];
        }
    }

    /// <summary>The text with every known secret form masked, then bounded to <see cref="MaxOutputBytes"/> UTF-8 bytes: its
    /// first <see cref="HeadBytes"/> (what failed, as the driver said it) and its last bytes (where output says why), with
    /// "… N bytes cut …" between them. Masking happens first, over the whole text, so a cut never leaves part of a value.</summary>
    public string Clean(string text)
    {
        var forms = Volatile.Read(ref _forms);
        foreach (var form in forms)
            if (text.Contains(form, StringComparison.Ordinal)) text = text.Replace(form, Mask, StringComparison.Ordinal);
        return Bound(text);
    }

    public const int HeadBytes = 512;

    /// <summary><paramref name="text"/> when it fits in <see cref="MaxOutputBytes"/>; else its first <see cref="HeadBytes"/>
    /// and last bytes around "… N bytes cut …" (never half a character).</summary>
    public static string Bound(string text)
    {
        var total = Encoding.UTF8.GetByteCount(text);
        if (total <= MaxOutputBytes) return text;
        var head = Prefix(text, HeadBytes);
        var tailStart = SuffixStart(text, MaxOutputBytes - HeadBytes);
        var cut = total - Encoding.UTF8.GetByteCount(text.AsSpan(0, head)) - Encoding.UTF8.GetByteCount(text.AsSpan(tailStart));
        return $"{text[..head]} … {cut} bytes cut … {text[tailStart..]}";
    }

    private static int Prefix(string text, int maxBytes)
    {
        var end = 0;
        var bytes = 0;
        while (end < text.Length)
        {
            var width = char.IsHighSurrogate(text[end]) && end + 1 < text.Length ? 2 : 1;
            var size = Encoding.UTF8.GetByteCount(text.AsSpan(end, width));
            if (bytes + size > maxBytes) break;
            bytes += size;
            end += width;
        }
        return end;
    }

    private static int SuffixStart(string text, int maxBytes)
    {
        var start = text.Length;
        var bytes = 0;
        while (start > 0)
        {
            var width = char.IsLowSurrogate(text[start - 1]) && start > 1 ? 2 : 1;
            var size = Encoding.UTF8.GetByteCount(text.AsSpan(start - width, width));
            if (bytes + size > maxBytes) break;
            bytes += size;
            start -= width;
        }
        return start;
    }

    private static IEnumerable<string> FormsOf(string value)
    {
        // The forms a file or a program on the host holds the value in; each may also be printed base64-encoded.
        string[] texts =
        [
            value,
            JsonEncodedText.Encode(value, JavaScriptEncoder.UnsafeRelaxedJsonEscaping).Value,
            JsonEncodedText.Encode(value).Value,
            value.Contains('\0') ? value : Shell.Quote(value),
        ];
        foreach (var text in texts.Distinct(StringComparer.Ordinal))
        {
            yield return text;
            var bytes = Encoding.UTF8.GetBytes(text);
            var whole = Convert.ToBase64String(bytes);
            yield return whole;
            yield return whole.Replace('+', '-').Replace('/', '_');
            yield return whole.Replace('+', '-').Replace('/', '_').TrimEnd('=');
            foreach (var fragment in Base64Fragments(bytes))
            {
                yield return fragment;
                yield return fragment.Replace('+', '-').Replace('/', '_');
            }
        }
        yield return Uri.EscapeDataString(value);
        yield return WebUtility.UrlEncode(value);
    }

    /// <summary>The base64 characters that depend only on <paramref name="bytes"/> when they start 0, 1 or 2 bytes into a
    /// 3-byte group of a longer text: the characters mixed with the neighbours' bits (and the padding) are dropped.</summary>
    private static IEnumerable<string> Base64Fragments(byte[] bytes)
    {
        for (var offset = 0; offset < 3; offset++)
        {
            var padded = new byte[offset + bytes.Length];
            bytes.CopyTo(padded, offset);
            var encoded = Convert.ToBase64String(padded).TrimEnd('=');
            var head = offset switch { 0 => 0, 1 => 2, _ => 3 };
            var tail = padded.Length % 3 == 0 ? 0 : 1;   // the last character shares bits with what follows
            var length = encoded.Length - head - tail;
            if (length >= MinBase64Fragment) yield return encoded.Substring(head, length);
        }
    }
}
