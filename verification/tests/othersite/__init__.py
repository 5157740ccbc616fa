"""A site that is not Pollstr: `startproject`'s settings, a page, a JSON view, its own layout.

Its layout (`site/base.html`) fills a block named `main`, not `content`, and shows no messages: the
tests prove the verification flow works there through a two-line bridge template.
"""
