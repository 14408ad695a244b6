using System.Collections.Immutable;
using System.Formats.Tar;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Reconciler.Drivers;

/// <summary>The rendered config files of a release. Both hold resolved secrets, so both are written 0600.</summary>
public static class ReleaseFiles
{
    private static readonly UTF8Encoding Utf8 = new(false);

    /// <summary>config.json: one flat object, keys sorted ordinally, values as strings, two-space indent,
    /// trailing newline. Byte-for-byte the same for the same config.</summary>
    public static byte[] ConfigJson(IReadOnlyDictionary<string, string> config)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions
        {
            Indented = true,
            // Relaxed escaping keeps non-ASCII readable; JSON-significant characters are still escaped.
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        }))
        {
            w.WriteStartObject();
            foreach (var key in config.Keys.Order(StringComparer.Ordinal))
                w.WriteString(key, config[key]);
            w.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }

    /// <summary>.env: KEY='value' per line, sorted, single-quoted with the shell quoting rule, so both
    /// `set -a; . ./.env` and dotenv readers get the literal value. Keys that are not shell variable names
    /// (they may contain '.' or '-') cannot be sourced; they are listed as a comment and live in config.json.</summary>
    public static byte[] DotEnv(IReadOnlyDictionary<string, string> config)
    {
        var sb = new StringBuilder();
        foreach (var key in config.Keys.Order(StringComparer.Ordinal))
        {
            if (IsShellName(key)) sb.Append(key).Append('=').Append(Shell.Quote(config[key])).Append('\n');
            else sb.Append("# ").Append(key).Append(": not a shell variable name; see config.json\n");
        }
        return Utf8.GetBytes(sb.ToString());
    }

    /// <summary>A small tar of config.json, .env and the release marker, streamed to a remote `tar -x` so the
    /// values never appear on a command line (where `ps` would show them).</summary>
    public static byte[] ConfigTar(string service, string releaseId, string sha256, IReadOnlyDictionary<string, string> config)
    {
        using var buffer = new MemoryStream();
        using (var tar = new TarWriter(buffer, TarEntryFormat.Ustar, leaveOpen: true))
        {
            Add(tar, ReleaseLayout.ConfigJsonFile, ConfigJson(config));
            Add(tar, ReleaseLayout.EnvFile, DotEnv(config));
            Add(tar, ReleaseLayout.MarkerFile, Utf8.GetBytes(ReleaseLayout.Marker(service, releaseId, sha256)));
        }
        return buffer.ToArray();
    }

    /// <summary>Writes the three files into a local release directory (each via a temp file and a rename).</summary>
    public static void WriteLocal(string releaseDir, string service, string releaseId, string sha256, IReadOnlyDictionary<string, string> config)
    {
        Write(releaseDir, ReleaseLayout.ConfigJsonFile, ConfigJson(config));
        Write(releaseDir, ReleaseLayout.EnvFile, DotEnv(config));
        // The marker goes last: a release dir is "present" only once it exists.
        Write(releaseDir, ReleaseLayout.MarkerFile, Utf8.GetBytes(ReleaseLayout.Marker(service, releaseId, sha256)));
    }

    private static void Write(string dir, string name, byte[] content)
    {
        var tmp = Path.Combine(dir, $".{name}.tmp-{Environment.ProcessId}");
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var f = new FileStream(tmp, options))
        {
            f.Write(content);
            f.Flush(flushToDisk: true);
        }
        File.Move(tmp, Path.Combine(dir, name), overwrite: true);
    }

    private static void Add(TarWriter tar, string name, byte[] content)
    {
        var entry = new UstarTarEntry(TarEntryType.RegularFile, name)
        {
            Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            ModificationTime = DateTimeOffset.UnixEpoch,
            DataStream = new MemoryStream(content),
        };
        tar.WriteEntry(entry);
    }

    private static bool IsShellName(string key) =>
        key.Length > 0 && (char.IsAsciiLetter(key[0]) || key[0] == '_') && key.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');
}
