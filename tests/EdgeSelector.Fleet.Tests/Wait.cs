namespace EdgeSelector.Fleet.Tests;

/// <summary>Bounded waits: every wait of these tests has a deadline and says what it waited for.</summary>
internal static class Wait
{
    public static async Task<TimeSpan> UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, Func<string>? diagnostics = null)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        while (!await condition())
        {
            if (started.Elapsed > timeout)
            {
                Assert.Fail($"timed out after {timeout.TotalSeconds:F0} s waiting for {what}{(diagnostics is null ? string.Empty : "\n" + diagnostics())}");
            }

            await Task.Delay(100);
        }

        return started.Elapsed;
    }
}
