"""The email layout: one `string.Template` per part, in HTML (inline styles, table layout, the only kind
mail programs agree on) and in plain text.

Every `$value` substituted here is already escaped by `portal.mail.templates` (`html.escape` for the HTML
parts): these templates never see raw user or translated text.
"""

from __future__ import annotations

from string import Template

FONT = "-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif"
MUTED = "#6b7280"

PAGE = Template(
    """<!DOCTYPE html>
<html lang="$lang">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>$title</title>
</head>
<body style="margin:0;padding:0;background:#f4f5f7;">
<div style="display:none;max-height:0;overflow:hidden;mso-hide:all;">$preheader</div>
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0"
 style="background:#f4f5f7;">
<tr><td align="center" style="padding:24px 12px;">
<table role="presentation" width="600" cellpadding="0" cellspacing="0" border="0"
 style="max-width:600px;width:100%;background:#ffffff;border-radius:8px;font-family:$font;color:#1f2937;">
<tr><td style="background:$color;padding:18px 24px;border-radius:8px 8px 0 0;">
<img src="$logo_url" alt="$org_name" height="40"
 style="height:40px;max-width:160px;vertical-align:middle;border:0;outline:none;">
<span style="color:$on_color;font-size:18px;font-weight:600;vertical-align:middle;padding-left:12px;">
$org_name</span>
</td></tr>
<tr><td style="padding:28px 24px 12px 24px;">
<h1 style="margin:0 0 18px 0;font-size:20px;line-height:1.3;color:#111827;">$heading</h1>
$body
</td></tr>
<tr><td
 style="padding:16px 24px 24px 24px;border-top:1px solid #e5e7eb;font-size:12px;line-height:1.5;
 color:$muted;">
$footer
</td></tr>
</table>
</td></tr>
</table>
</body>
</html>
"""
)

PARAGRAPH = Template('<p style="margin:0 0 14px 0;font-size:15px;line-height:1.55;">$content</p>')

BUTTON = Template(
    """<table role="presentation" cellpadding="0" cellspacing="0" border="0" style="margin:22px 0 10px 0;">
<tr><td style="background:$color;border-radius:6px;">
<a href="$url" style="display:inline-block;padding:12px 24px;font-size:15px;font-weight:600;color:$on_color;\
text-decoration:none;border-radius:6px;">$label</a>
</td></tr>
</table>
<p style="margin:0 0 18px 0;font-size:12px;line-height:1.5;color:$muted;word-break:break-all;">\
$fallback <a href="$url" style="color:$color;">$url_text</a></p>"""
)

DETAILS = Template(
    """<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0"
 style="margin:8px 0 18px 0;border-collapse:collapse;font-size:14px;">
$rows
</table>"""
)

DETAIL_ROW = Template(
    """<tr><td style="padding:7px 0;border-bottom:1px solid #f0f1f3;color:$muted;">$label</td>\
<td style="padding:7px 0;border-bottom:1px solid #f0f1f3;text-align:right;font-weight:600;">\
$value</td></tr>"""
)

TABLE = Template(
    """<table width="100%" cellpadding="0" cellspacing="0" border="0"
 style="margin:8px 0 18px 0;border-collapse:collapse;font-size:13px;">
<tr>$head</tr>
$rows
</table>"""
)

TABLE_HEAD = Template(
    """<th style="padding:6px 4px;border-bottom:1px solid #e5e7eb;color:$muted;font-weight:600;\
text-align:$align;">$content</th>"""
)

TABLE_CELL = Template(
    """<td style="padding:6px 4px;border-bottom:1px solid #f0f1f3;text-align:$align;">$content</td>"""
)

NOTE = Template(
    """<div style="margin:0 0 18px 0;padding:10px 14px;border-left:3px solid $color;background:#f9fafb;\
font-size:14px;line-height:1.5;">
<div style="font-size:12px;color:$muted;margin-bottom:4px;">$label</div>
<div>$content</div>
</div>"""
)

FOOTER_LINE = Template("<div>$content</div>")

TEXT = Template(
    """$org_name
$rule

$heading

$body

$signature_dash
$footer
"""
)
