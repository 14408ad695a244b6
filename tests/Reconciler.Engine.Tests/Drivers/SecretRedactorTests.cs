using System.Net;
using System.Text;
using System.Text.Json;
using Reconciler.Drivers;
using Reconciler.Drivers.Secrets;
using Xunit;

namespace Reconciler.Engine.Tests.Drivers;

public sealed class SecretRedactorTests
{
    private const string Value = "p@ss w\"ord/é+1'x";

    private static SecretRedactor With(params string[] values)
    {
        var redactor = new SecretRedactor();
        foreach (var v in values) redactor.Add(v);
        return redactor;
    }

    public static TheoryData<string> Encodings() => new()
    {
        Value,
        JsonEncodedText.Encode(Value).Value,
        JsonEncodedText.Encode(Value, System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping).Value,
        Shell.Quote(Value),
        Uri.EscapeDataString(Value),
        WebUtility.UrlEncode(Value),
        Convert.ToBase64String(Encoding.UTF8.GetBytes(Value)),
        Convert.ToBase64String(Encoding.UTF8.GetBytes(Value)).Replace('+', '-').Replace('/', '_').TrimEnd('='),
    };

    [Theory]
    [MemberData(nameof(Encodings))]
    public void Every_form_of_a_value_is_masked(string printed)
    {
        var cleaned = With(Value).Clean($"before {printed} after");

        Assert.Equal($"before {SecretRedactor.Mask} after", cleaned);
    }

    [Theory]
    [InlineData("")]
    [InlineData("x")]
    [InlineData("xy")]
    [InlineData("{\"K\": \"")]
    public void A_value_inside_a_longer_base64_text_is_masked_at_any_offset(string before)
    {
        var file = before + "{\"DB\": \"" + Value + "\", \"LOG\": \"info\"}\n";
        var encoded = Convert.ToBase64String(Encoding.UTF8.GetBytes(file));

        var cleaned = With(Value).Clean(encoded);

        Assert.Contains(SecretRedactor.Mask, cleaned);
        foreach (var part in cleaned.Split(SecretRedactor.Mask))
            for (var skip = 0; skip < 4 && skip < part.Length; skip++)
            {
                var chars = part[skip..][..((part.Length - skip) / 4 * 4)];
                var bytes = new byte[chars.Length];
                if (Convert.TryFromBase64String(chars, bytes, out var n))
                    Assert.DoesNotContain("ss w", Encoding.UTF8.GetString(bytes, 0, n));
            }
    }

    [Fact]
    public void A_one_character_value_is_still_masked_as_itself()
    {
        Assert.Equal($"a{SecretRedactor.Mask}c", With("b").Clean("abc"));
    }

    [Fact]
    public void Output_over_the_bound_keeps_head_and_tail_and_says_how_much_was_cut()
    {
        var text = "head:" + new string('x', 10_000) + Value + ":tail";

        var cleaned = With(Value).Clean(text);

        Assert.StartsWith("head:", cleaned);
        Assert.EndsWith($"{SecretRedactor.Mask}:tail", cleaned);
        Assert.True(Encoding.UTF8.GetByteCount(cleaned) < SecretRedactor.MaxOutputBytes + 64);
        var cut = Encoding.UTF8.GetByteCount(text.Replace(Value, SecretRedactor.Mask)) - (SecretRedactor.MaxOutputBytes);
        Assert.Contains($" … {cut} bytes cut … ", cleaned);
    }

    [Fact]
    public void Text_without_secrets_within_the_bound_is_unchanged()
    {
        Assert.Equal("exit 1: no such file", With(Value).Clean("exit 1: no such file"));
        Assert.Equal("anything", new SecretRedactor().Clean("anything"));
    }
}
