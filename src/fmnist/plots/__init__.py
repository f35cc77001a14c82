"""Every figure of the report, one function each, in one style; each returns its figure.

- `style`: the one style (seaborn's, sized for the site's content column), a figure's words
  (`describe`), saving it as a PNG that carries them (`save`), a model's one colour
- `page`: the figures of a chapter's own page: the data's, and each model's
- `comparison`: the models side by side: the comparison chapter's, the landing page's and the
  runs page's figures
- `search`: the tuning chapter's figures of its search's trials

Nothing is imported here: the site's Sphinx extension reads `PNG_DESCRIPTION` without loading
matplotlib.
"""

# The PNG text key that carries a figure's words: its alt text on the site (`fmnist.sphinx_ext`).
PNG_DESCRIPTION = "Description"
