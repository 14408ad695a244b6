using System.Security.Cryptography;
using Reconciler.Schema.Model;

namespace Reconciler.Drivers.Ssh;

/// <summary>
/// Decides whether a presented host key is the pinned one. HostSpec.HostKey is either a public key line
/// ("ssh-ed25519 AAAA... [comment]", as in known_hosts or the host's .pub file) or an OpenSSH fingerprint
/// ("SHA256:base64", as printed by `ssh-keygen -lf`). No pin = unknown host: refused unless trusted explicitly.
/// </summary>
public static class HostKeyPolicy
{
    public sealed record Verdict(bool Accept, string? Refusal, bool TrustedUnknown);

    /// <param name="keyBlob">The key as sent by the server (the base64-decoded middle of a .pub line).</param>
    public static Verdict Check(HostSpec host, byte[] keyBlob, bool trustUnknown)
    {
        var presentedFingerprint = Fingerprint(keyBlob);
        var presentedLine = $"{KeyType(keyBlob)} {Convert.ToBase64String(keyBlob)}";
        if (string.IsNullOrWhiteSpace(host.HostKey))
        {
            if (trustUnknown) return new Verdict(true, null, true);
            return new Verdict(false,
                $"unknown host key {presentedFingerprint} ({KeyType(keyBlob)}) at {host.Address}:{host.Port}: refusing to connect. " +
                $"Check it out of band (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the host), then pin it for host " +
                $"'{host.Name}' in its environment file: hostKey: \"{presentedLine}\" (or the fingerprint \"{presentedFingerprint}\"). " +
                "--trust-unknown-host-keys connects anyway (not recommended)", false);
        }

        var pinned = host.HostKey.Trim();
        bool matches;
        if (pinned.StartsWith("SHA256:", StringComparison.Ordinal))
            matches = string.Equals(pinned.TrimEnd('='), presentedFingerprint, StringComparison.Ordinal);
        else
            matches = PinnedBlob(pinned) is { } blob && blob.AsSpan().SequenceEqual(keyBlob);
        return matches
            ? new Verdict(true, null, false)
            : new Verdict(false,
                $"HOST KEY MISMATCH at {host.Address}:{host.Port}: presented {presentedFingerprint} ({KeyType(keyBlob)}), pinned " +
                $"{Describe(pinned)}. Someone may be intercepting the connection; refusing to connect. If the host was " +
                $"reinstalled, verify the new key out of band and update hostKey of '{host.Name}'", false);
    }

    /// <summary>"SHA256:" + unpadded base64 of the SHA-256 of the key blob, exactly as OpenSSH prints it.</summary>
    public static string Fingerprint(byte[] keyBlob) => "SHA256:" + Convert.ToBase64String(SHA256.HashData(keyBlob)).TrimEnd('=');

    /// <summary>The key type a pin names ("ssh-ed25519"), or null for a fingerprint pin.</summary>
    public static string? PinnedKeyType(string? pinned) =>
        pinned is null || pinned.StartsWith("SHA256:", StringComparison.Ordinal)
            ? null
            : pinned.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();

    private static byte[]? PinnedBlob(string pinned)
    {
        var parts = pinned.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length < 2) return null;
        try { return Convert.FromBase64String(parts[1]); }
        catch (FormatException) { return null; }
    }

    private static string Describe(string pinned) =>
        PinnedBlob(pinned) is { } blob ? $"{Fingerprint(blob)} ({PinnedKeyType(pinned)})" : ReleaseLayout.Printable(pinned);

    /// <summary>The key type is the first length-prefixed string of the SSH wire format key blob.</summary>
    private static string KeyType(byte[] blob)
    {
        if (blob.Length < 4) return "unknown";
        var length = (blob[0] << 24) | (blob[1] << 16) | (blob[2] << 8) | blob[3];
        return length > 0 && length <= blob.Length - 4 ? System.Text.Encoding.ASCII.GetString(blob, 4, length) : "unknown";
    }
}
